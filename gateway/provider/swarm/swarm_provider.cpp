// Functions as Swarm services, through the Docker Engine API.
#include "provider/swarm/swarm_provider.h"

#include <algorithm>

#include "autoscale/scale_policy.h"
#include "base64.h"
#include "log.h"
#include "provider/deployment_rules.h"
#include "provider/swarm/service_mapping.h"
#include "provider/swarm/swarm_logs.h"
#include "provider/swarm/task_pause.h"

namespace faas::gateway {
namespace {

using nlohmann::json;

std::string not_found(const std::string& name) {
    return "function " + name + " not found";
}

swarm::EndpointCacheOptions cache_options(const SwarmProviderOptions& options) {
    return swarm::EndpointCacheOptions{options.refresh_interval, options.min_refresh_gap};
}

// OpenFaaS's registryAuth is base64 "user:password"; the engine wants X-Registry-Auth, base64url
// JSON with the registry the image names.
std::vector<std::string> registry_auth_headers(const FunctionDeployment& deployment) {
    auto it = deployment.raw.find("registryAuth");
    if (it == deployment.raw.end() || !it->is_string() || it->get<std::string>().empty()) return {};
    auto decoded = faas::base64_decode(it->get<std::string>());
    if (!decoded || decoded->find(':') == std::string::npos)
        throw BadRequest("'registryAuth' must be base64 of user:password");
    auto colon = decoded->find(':');
    std::string server;
    if (auto slash = deployment.image.find('/'); slash != std::string::npos) {
        auto first = deployment.image.substr(0, slash);
        if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
            first == "localhost")
            server = first;
    }
    json auth = {{"username", decoded->substr(0, colon)},
                 {"password", decoded->substr(colon + 1)},
                 {"serveraddress", server}};
    return {"X-Registry-Auth: " + faas::base64_encode(auth.dump(), true)};
}

// Checks what can be checked without Docker (limits, env names) before asking it anything.
void validate(const FunctionDeployment& deployment) {
    swarm::SpecContext context;
    for (const auto& name : deployment.secrets) context.secret_ids[name] = "unchecked";
    swarm::service_spec(deployment, context);
}

}  // namespace

SwarmProvider::SwarmProvider(SwarmProviderOptions options)
    : options_(std::move(options)),
      docker_(options_.docker),
      network_(docker_, options_.network),
      cache_(docker_, network_, cache_options(options_)) {
    // One attempt before serving, so the first calls after a restart find their functions
    // instead of a 404; with dockerd away the gateway starts anyway and the refresher retries.
    try {
        network_.id();
    } catch (const std::exception&) {
        // No network yet, or no engine: the refresher tries again.
    }
    try {
        cache_.refresh_now();
    } catch (const std::exception& e) {
        log_line(std::string("Docker engine not reachable at start-up, will keep trying: ") +
                 e.what());
    }
    cache_.start();
}

SwarmProvider::~SwarmProvider() {
    shutdown();
}

void SwarmProvider::shutdown() {
    cache_.stop();
}

ProviderInfo SwarmProvider::info() const {
    return {"faas-swarm", "swarm"};
}

void SwarmProvider::refresh_now() {
    cache_.refresh_now();
}

std::optional<json> SwarmProvider::find_service(const std::string& name) const {
    for (auto& service : swarm::function_services(docker_))
        if (swarm::function_name_of(service) == name) return std::move(service);
    return std::nullopt;
}

FunctionRecord SwarmProvider::record_of(const json& service, const std::string& name,
                                        const std::vector<json>& tasks) const {
    FunctionRecord record;
    record.deployment =
        reported_deployment(swarm::deployment_of(service, name, options_.function_namespace));
    if (swarm::service_paused(service)) {  // at zero, as far as anyone calling is concerned
        record.created_at = service.value("CreatedAt", "");
        return record;
    }
    record.replicas = swarm::desired_replicas(service);
    std::string id = service.value("ID", "");
    // A task of an older spec (another image) still serving means the update is rolling.
    const auto image =
        service.value("/Spec/TaskTemplate/ContainerSpec/Image"_json_pointer, std::string());
    for (const auto& task : tasks) {
        if (task.value("ServiceID", "") != id || !swarm::task_ready(task)) continue;
        ++record.available_replicas;
        if (task.value("/Spec/ContainerSpec/Image"_json_pointer, image) != image)
            record.rolling = true;
    }
    const auto update = service.value("/UpdateStatus/State"_json_pointer, std::string());
    if (update == "updating" || update == "rollback_started") record.rolling = true;
    record.created_at = service.value("CreatedAt", "");
    return record;
}

std::vector<FunctionRecord> SwarmProvider::list() {
    auto services = swarm::function_services(docker_);
    auto tasks = swarm::running_tasks(docker_, "");
    std::vector<FunctionRecord> out;
    for (const auto& service : services)
        out.push_back(record_of(service, *swarm::function_name_of(service), tasks));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.deployment.service < b.deployment.service;
    });
    return out;
}

std::optional<FunctionRecord> SwarmProvider::get(const std::string& name) {
    auto service = find_service(name);
    if (!service) return std::nullopt;
    const std::string id = service->value("ID", "");
    auto tasks = swarm::running_tasks(docker_, id);
    // What this status reports available, calls reach.
    cache_.observe(name, id, swarm::service_paused(*service), tasks);
    auto record = record_of(*service, name, tasks);
    if (record.available_replicas < record.replicas)
        record.reason = swarm::task_problem(docker_, id);
    return record;
}

std::map<std::string, std::string> SwarmProvider::secret_ids(
    const std::vector<std::string>& names) const {
    std::map<std::string, std::string> ids;
    if (names.empty()) return ids;
    for (const auto& secret : swarm::function_secrets(docker_))
        ids[swarm::secret_name(secret)] = secret.value("ID", "");
    std::map<std::string, std::string> out;
    for (const auto& name : names) {
        auto it = ids.find(name);
        // check_deployment asked moments ago; a secret removed since gets the same answer.
        if (it == ids.end()) throw NotFound("secret " + name + " not found");
        out[name] = it->second;
    }
    return out;
}

json SwarmProvider::build_spec(const FunctionDeployment& deployment, int replicas) {
    swarm::SpecContext context;
    context.replicas = replicas;
    context.secret_ids = secret_ids(deployment.secrets);
    context.network_id = network_.id();
    return swarm::service_spec(deployment, context);
}

void SwarmProvider::deploy(const FunctionDeployment& deployment) {
    check_deployment(deployment, *this, options_.max_replicas);
    int replicas = initial_replicas(deployment, options_.max_replicas);
    auto headers = registry_auth_headers(deployment);
    validate(deployment);
    if (find_service(deployment.service))
        throw AlreadyExists("function " + deployment.service + " already exists");
    check_name_free(deployment.service);
    auto body = build_spec(deployment, replicas).dump();
    auto response = docker_.request("POST", "/services/create", &body, headers);
    if (!response.ok()) throw_engine_error("creating service " + deployment.service, response);
    auto created = json::parse(response.body, nullptr, false);
    cache_.remember(deployment.service, created.is_object() ? created.value("ID", "") : "");
}

void SwarmProvider::check_name_free(const std::string& name) const {
    // A function named like another service on the network (a stack's "gateway", reachable
    // as "gateway" through its alias) would share its DNS name and take some of its traffic.
    auto services = docker_.get_json("/services");
    if (!services.is_array()) return;
    for (const auto& service : services) {
        auto spec = service.value("Spec", json::object());
        std::string service_name = spec.value("Name", "");
        std::string stack;
        if (auto labels = spec.find("Labels"); labels != spec.end() && labels->is_object())
            stack = labels->value("com.docker.stack.namespace", "");
        bool alias = !stack.empty() && service_name == stack + "_" + name;
        if (service_name == name || alias)
            throw AlreadyExists("the name " + name + " is taken by service " + service_name);
    }
}

void SwarmProvider::update_service(const json& service, json spec,
                                   const std::vector<std::string>& headers) {
    std::string id = service.value("ID", "");
    json current = service;
    // Swarm versions every service; a concurrent change between read and write is retried.
    for (int attempt = 0; attempt < 3; ++attempt) {
        long long version = 0;
        if (auto v = current.find("Version"); v != current.end() && v->is_object())
            version = v->value("Index", 0LL);
        auto body = spec.dump();
        auto response = docker_.request(
            "POST", "/services/" + id + "/update?version=" + std::to_string(version), &body,
            headers);
        if (response.ok()) return;
        if (response.message().find("out of sequence") == std::string::npos || attempt == 2)
            throw_engine_error("updating service " + service.value("ID", ""), response);
        auto refreshed = docker_.request("GET", "/services/" + id);
        if (!refreshed.ok()) throw_engine_error("reading service " + id, refreshed);
        current = json::parse(refreshed.body, nullptr, false);
    }
}

void SwarmProvider::update(const FunctionDeployment& deployment) {
    auto service = find_service(deployment.service);
    if (!service) throw NotFound(not_found(deployment.service));
    check_deployment(deployment, *this, options_.max_replicas);
    auto headers = registry_auth_headers(deployment);
    validate(deployment);
    // A paused function comes back running: its containers are thawed so that they stop
    // gracefully, and the new spec has no paused label.
    const bool paused = swarm::service_paused(*service);
    if (paused) swarm::unpause_service(docker_, service->value("ID", ""));
    // An update keeps the current scale; only a new deployment starts at scale.min.
    auto spec = build_spec(deployment, swarm::desired_replicas(*service));
    if (auto old_spec = service->find("Spec"); old_spec != service->end()) {
        // The service keeps its name (a stack's "func_catservice") and its stack's labels, so
        // `docker stack rm` still finds it.
        spec["Name"] = old_spec->value("Name", deployment.service);
        if (auto labels = old_spec->find("Labels");
            labels != old_spec->end() && labels->is_object())
            for (const auto& [key, value] : labels->items())
                if (key.rfind("com.docker.", 0) == 0) spec["Labels"][key] = value;
    }
    // Every PUT rolls the replicas, also when only a local image behind the same tag changed
    // (nothing in the spec would, and Swarm would do nothing).
    std::int64_t force = 0;
    if (auto old_spec = service->find("Spec"); old_spec != service->end() && old_spec->is_object())
        if (auto task = old_spec->find("TaskTemplate");
            task != old_spec->end() && task->is_object())
            force = task->value("ForceUpdate", std::int64_t{0});
    spec["TaskTemplate"]["ForceUpdate"] = force + 1;
    update_service(*service, std::move(spec), headers);
    if (paused) cache_.set_paused(deployment.service, false);
    cache_.request_refresh();
}

void SwarmProvider::scale(const std::string& name, int replicas) {
    check_replicas(replicas, options_.max_replicas);
    auto service = find_service(name);
    if (!service) throw NotFound(not_found(name));
    json spec = service->value("Spec", json::object());
    auto mode = spec.find("Mode");
    if (mode == spec.end() || !mode->contains("Replicated"))
        throw BadRequest("function " + name + " is a global service and cannot be scaled");
    const bool paused = swarm::service_paused(*service);
    if (replicas == 0 && paused) return;
    if (replicas == 0 && pause_in_place(*service, name)) return;
    if (paused) {
        // Thawed first: the tasks answer as soon as they are, and the update only records it.
        int thawed = swarm::unpause_service(docker_, service->value("ID", ""));
        spec["Labels"].erase(swarm::kPausedLabel);
        log_line("Unpaused " + name + ": " + std::to_string(thawed) + " replica(s)");
    }
    spec["Mode"]["Replicated"]["Replicas"] = replicas;
    update_service(*service, std::move(spec));
    if (paused) cache_.set_paused(name, false);
    cache_.request_refresh();
}

bool SwarmProvider::pause_in_place(const json& service, const std::string& name) {
    auto labels = swarm::deployment_of(service, name, options_.function_namespace).labels;
    if (scale_policy(labels).zero_mode != ZeroMode::kPause) return false;
    const std::string id = service.value("ID", "");
    auto containers = swarm::pausable_containers(docker_, id, swarm::running_tasks(docker_, id));
    if (!containers || containers->empty()) {
        log_line("Cannot pause " + name +
                 " in place (a replica has no container yet or runs on another node): removing its "
                 "replicas instead");
        return false;
    }
    cache_.set_paused(name, true);  // no new call goes to a replica about to freeze
    try {
        swarm::pause_containers(docker_, *containers);
        json spec = service.value("Spec", json::object());
        spec["Labels"][swarm::kPausedLabel] = "true";
        update_service(service, std::move(spec));
    } catch (const std::exception&) {
        swarm::unpause_service(docker_, id);
        cache_.set_paused(name, false);
        throw;
    }
    log_line("Paused " + name + " in place: " + std::to_string(containers->size()) +
             " replica(s) keep their memory and wake when called");
    return true;
}

void SwarmProvider::remove(const std::string& name) {
    auto service = find_service(name);
    if (!service) throw NotFound(not_found(name));
    auto response = docker_.request("DELETE", "/services/" + service->value("ID", ""));
    if (!response.ok()) throw_engine_error("removing service " + name, response);
    cache_.forget(name);
}

Resolution SwarmProvider::resolve(const std::string& name) {
    return cache_.resolve(name);
}

std::unique_ptr<LogStream> SwarmProvider::logs(const LogQuery& query) {
    auto service = find_service(query.name);
    if (!service) throw NotFound(not_found(query.name));
    return swarm::service_logs(docker_, service->value("ID", ""), query);
}

std::vector<std::string> SwarmProvider::list_secrets() {
    std::vector<std::string> names;
    for (const auto& secret : swarm::function_secrets(docker_))
        if (auto name = swarm::secret_name(secret); !name.empty()) names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

void SwarmProvider::create_secret(const std::string& name, const std::string& value) {
    json secret = {{"Name", name},
                   {"Data", faas::base64_encode(value, false)},
                   {"Labels", {{swarm::kSecretLabel, "true"}}}};
    auto body = secret.dump();
    auto response = docker_.request("POST", "/secrets/create", &body);
    if (response.status == 409) throw AlreadyExists("secret " + name + " already exists");
    if (!response.ok()) throw_engine_error("creating secret " + name, response);
}

void SwarmProvider::update_secret(const std::string& name, const std::string& value) {
    // Swarm secrets are immutable: a secret no service mounts is replaced (removed and
    // created again); one in use cannot change under its running tasks.
    try {
        remove_secret(name);
    } catch (const BadRequest&) {
        throw BadRequest("Swarm secrets are immutable and " + name +
                         " is mounted by a function: remove the functions using it, then "
                         "update it");
    }
    create_secret(name, value);
}

void SwarmProvider::remove_secret(const std::string& name) {
    auto names = list_secrets();
    if (std::find(names.begin(), names.end(), name) == names.end())
        throw NotFound("secret " + name + " not found");
    auto response = docker_.request("DELETE", "/secrets/" + DockerClient::url_encode(name));
    if (response.status == 400 || response.status == 409 || response.status == 500) {
        if (response.message().find("in use") != std::string::npos)
            throw BadRequest("secret " + name + " is in use: " + response.message());
    }
    if (!response.ok()) throw_engine_error("removing secret " + name, response);
}

}  // namespace faas::gateway
