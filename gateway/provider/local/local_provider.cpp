// The local provider's API: checks, persistence, then the supervisor.
#include "provider/local/local_provider.h"

#include "log.h"
#include "provider/deployment_rules.h"
#include "provider/local/replica_setup.h"
#include "time_format.h"

namespace faas::gateway {
namespace {

SupervisorOptions supervisor_options(LocalProviderOptions& options, const LocalImages& images) {
    SupervisorOptions out;
    out.images = &images;
    out.watchdog_path = options.watchdog_path;
    out.stop_grace = options.stop_grace;
    out.ready_timeout = options.ready_timeout;
    out.min_backoff = options.min_backoff;
    out.max_backoff = options.max_backoff;
    out.base_env = std::move(options.base_env);
    out.mount_secrets = options.mount_secrets;
    return out;
}

std::string not_found(const std::string& name) {
    return "function " + name + " not found";
}

}  // namespace

LocalProvider::LocalProvider(LocalProviderOptions options)
    : max_replicas_(options.max_replicas),
      store_(options.state_dir, options.function_namespace),
      images_(std::filesystem::path(options.state_dir) / "images"),
      supervisor_(supervisor_options(options, images_), store_) {
    for (const auto& function : store_.load_functions(max_replicas_)) {
        log_line("Restored function " + function.deployment.service + " (" +
                 std::to_string(function.replicas) + " replicas)");
        supervisor_.add(function);
    }
}

LocalProvider::~LocalProvider() {
    shutdown();
}

ProviderInfo LocalProvider::info() const {
    return ProviderInfo{"faas-local", "local"};
}

std::vector<FunctionRecord> LocalProvider::list() {
    auto records = supervisor_.records();
    for (auto& record : records) record.deployment = reported_deployment(record.deployment);
    return records;
}

std::optional<FunctionRecord> LocalProvider::get(const std::string& name) {
    auto record = supervisor_.record(name);
    if (record) record->deployment = reported_deployment(record->deployment);
    return record;
}

void LocalProvider::check(const FunctionDeployment& deployment) {
    check_deployment(deployment, *this, max_replicas_);
    if (fprocess_of(deployment).empty() && !images_.find(deployment.image))
        throw BadRequest(
            "the local provider runs envProcess or an image it built: set 'envProcess' to the "
            "command each replica runs, or build the function from source (POST /system/builds)");
}

void LocalProvider::deploy(const FunctionDeployment& deployment) {
    check(deployment);
    {
        std::lock_guard lock(changes_mutex_);
        if (supervisor_.stored(deployment.service))
            throw AlreadyExists("function " + deployment.service + " already exists");
        StoredFunction function{deployment, initial_replicas(deployment, max_replicas_),
                                faas::rfc3339_now()};
        store_.save_function(function);
        supervisor_.add(function);
    }
    log_line("Deployed function " + deployment.service);
}

void LocalProvider::update(const FunctionDeployment& deployment) {
    if (!supervisor_.stored(deployment.service)) throw NotFound(not_found(deployment.service));
    check(deployment);
    {
        std::lock_guard lock(changes_mutex_);
        auto function = supervisor_.stored(deployment.service);
        if (!function) throw NotFound(not_found(deployment.service));
        function->deployment = deployment;
        store_.save_function(*function);
        supervisor_.replace(deployment);
    }
    log_line("Updating function " + deployment.service + " (rolling)");
}

void LocalProvider::scale(const std::string& name, int replicas) {
    check_replicas(replicas, max_replicas_);
    {
        std::lock_guard lock(changes_mutex_);
        auto function = supervisor_.stored(name);
        if (!function) throw NotFound(not_found(name));
        function->replicas = replicas;
        store_.save_function(*function);
        supervisor_.set_replicas(name, replicas);
    }
    log_line("Scaling function " + name + " to " + std::to_string(replicas) + " replicas");
}

void LocalProvider::remove(const std::string& name) {
    {
        std::lock_guard lock(changes_mutex_);
        if (!supervisor_.stored(name)) throw NotFound(not_found(name));
        store_.remove_function(name);
        supervisor_.remove(name);
    }
    log_line("Removed function " + name);
}

Resolution LocalProvider::resolve(const std::string& name) {
    return supervisor_.resolve(name);
}

std::unique_ptr<LogStream> LocalProvider::logs(const LogQuery& query) {
    auto buffer = supervisor_.logs(query.name);
    if (!buffer) throw NotFound(not_found(query.name));
    return buffer->stream(query);
}

std::vector<std::string> LocalProvider::list_secrets() {
    return store_.secret_names();
}

void LocalProvider::create_secret(const std::string& name, const std::string& value) {
    store_.create_secret(name, value);
}

void LocalProvider::update_secret(const std::string& name, const std::string& value) {
    store_.update_secret(name, value);
    supervisor_.refresh_secret(name, value);
}

void LocalProvider::remove_secret(const std::string& name) {
    store_.remove_secret(name);
}

void LocalProvider::shutdown() {
    supervisor_.stop();
}

}  // namespace faas::gateway
