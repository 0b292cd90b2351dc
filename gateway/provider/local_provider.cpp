// The local provider: fwatchdog child processes on loopback, supervised.
#include "provider/local_provider.h"

#include <httplib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "alert.h"
#include "log.h"
#include "provider/replica_process.h"
#include "routes.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kSuperviseInterval = std::chrono::milliseconds(100);
constexpr auto kHealthInterval = std::chrono::seconds(1);
// A replica that answers "unhealthy" leaves the rotation at once; one that does not answer in
// time leaves it after three such probes in a row, as with Docker's retries. A fork-mode replica
// busy with hundreds of calls answers late: taking it out then turned a slow second into a
// burst of 503s.
constexpr int kHealthRetries = 3;
constexpr auto kStableAfter = std::chrono::seconds(10);

void write_file_atomically(const fs::path& path, const std::string& content, mode_t mode) {
    auto temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw ProviderUnavailable("cannot write " + temporary.string());
        out << content;
        out.flush();
        if (!out) throw ProviderUnavailable("cannot write " + temporary.string());
    }
    ::chmod(temporary.c_str(), mode);
    std::error_code ec;
    fs::rename(temporary, path, ec);
    if (ec) throw ProviderUnavailable("cannot write " + path.string() + ": " + ec.message());
}

std::optional<std::string> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

std::string fprocess_of(const FunctionDeployment& deployment) {
    if (!deployment.env_process.empty()) return deployment.env_process;
    auto it = deployment.env_vars.find("fprocess");
    return it == deployment.env_vars.end() ? std::string() : it->second;
}

enum class Health {
    kHealthy,
    kUnhealthy,  ///< It said so (503: lock file gone, draining), or nothing listens on its port.
    kNoAnswer,   ///< Busy or hung: only a run of these takes it out of rotation.
};

Health probe_health(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    client.set_write_timeout(1, 0);
    auto res = client.Get("/_/health");
    if (res) return res->status == 200 ? Health::kHealthy : Health::kUnhealthy;
    return res.error() == httplib::Error::Connection ? Health::kUnhealthy : Health::kNoAnswer;
}

}  // namespace

struct LocalProvider::Replica {
    std::string id;
    int generation = 0;
    std::string dir;
    std::unique_ptr<ReplicaProcess> process;
    Clock::time_point started_at;
    bool ever_ready = false;
    bool ready = false;
    Clock::time_point ready_since;
    Clock::time_point next_health_check;
    int unanswered_checks = 0;  ///< Health probes in a row that got no answer in time.
    int restarts = 0;
    std::optional<Clock::time_point> restart_at;
    bool stopping = false;
    Clock::time_point kill_at;
};

struct LocalProvider::Function {
    FunctionDeployment deployment;
    std::string created_at;
    int replicas = 0;
    int generation = 0;
    std::vector<std::shared_ptr<Replica>> members;
    std::shared_ptr<LogBuffer> logs;
    std::vector<Endpoint> endpoints;  ///< Ready replicas, rebuilt on every change.
};

LocalProvider::LocalProvider(LocalProviderOptions options) : options_(std::move(options)) {
    fs::path root(options_.state_dir);
    functions_dir_ = (root / "functions").string();
    secrets_dir_ = (root / "secrets").string();
    run_dir_ = (root / "run").string();
    std::error_code ec;
    fs::create_directories(functions_dir_, ec);
    if (!ec) fs::create_directories(secrets_dir_, ec);
    if (!ec) {
        // Replica directories of a previous run belong to processes that are gone.
        fs::remove_all(run_dir_, ec);
        fs::create_directories(run_dir_, ec);
    }
    if (ec)
        throw ProviderUnavailable("state_dir " + options_.state_dir +
                                  " is not usable: " + ec.message());
    ::chmod(secrets_dir_.c_str(), 0700);
    restore();
    supervisor_ = std::thread([this] { supervise(); });
}

LocalProvider::~LocalProvider() {
    shutdown();
}

ProviderInfo LocalProvider::info() const {
    return ProviderInfo{"faas-local", "local"};
}

void LocalProvider::restore() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(functions_dir_, ec)) {
        if (entry.path().extension() != ".json") continue;
        auto content = read_file(entry.path());
        try {
            if (!content) throw BadRequest("unreadable");
            auto state = json::parse(*content);
            auto function = std::make_unique<Function>();
            function->deployment =
                deployment_from_json(state.at("deployment"), options_.function_namespace);
            if (function->deployment.service != entry.path().stem().string())
                throw BadRequest("file name does not match the service");
            function->replicas =
                std::clamp(state.at("replicas").get<int>(), 0, options_.max_replicas);
            function->created_at = state.at("createdAt").get<std::string>();
            function->logs = std::make_shared<LogBuffer>(function->deployment.service);
            log_line("Restored function " + function->deployment.service + " (" +
                     std::to_string(function->replicas) + " replicas)");
            functions_.emplace(function->deployment.service, std::move(function));
        } catch (const std::exception& e) {
            log_line("Skipping persisted deployment " + entry.path().string() + ": " + e.what());
        }
    }
}

void LocalProvider::persist(const Function& function) const {
    json state = {{"deployment", function.deployment.raw},
                  {"replicas", function.replicas},
                  {"createdAt", function.created_at}};
    write_file_atomically(fs::path(functions_dir_) / (function.deployment.service + ".json"),
                          state.dump(2), 0600);
}

void LocalProvider::check_deployable(const FunctionDeployment& deployment) const {
    if (fprocess_of(deployment).empty())
        throw BadRequest(
            "the local provider runs envProcess: set 'envProcess' to the command each replica "
            "runs");
    std::lock_guard lock(secrets_mutex_);
    for (const auto& secret : deployment.secrets)
        if (!fs::exists(fs::path(secrets_dir_) / secret))
            throw BadRequest("secret '" + secret + "' does not exist");
}

int LocalProvider::initial_replicas(const FunctionDeployment& deployment) const {
    auto bounds = scaling_bounds(deployment.labels);
    return std::clamp(bounds.min, 0, options_.max_replicas);
}

FunctionRecord LocalProvider::record_of(const Function& function) const {
    FunctionRecord record;
    record.deployment = function.deployment;
    record.replicas = function.replicas;
    record.available_replicas = static_cast<int>(function.endpoints.size());
    record.created_at = function.created_at;
    return record;
}

std::vector<FunctionRecord> LocalProvider::list() {
    std::shared_lock lock(mutex_);
    std::vector<FunctionRecord> out;
    out.reserve(functions_.size());
    for (const auto& [name, function] : functions_) out.push_back(record_of(*function));
    return out;
}

std::optional<FunctionRecord> LocalProvider::get(const std::string& name) {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return std::nullopt;
    return record_of(*it->second);
}

void LocalProvider::deploy(const FunctionDeployment& deployment) {
    check_deployable(deployment);
    {
        std::unique_lock lock(mutex_);
        if (functions_.count(deployment.service))
            throw AlreadyExists("function " + deployment.service + " already exists");
        auto function = std::make_unique<Function>();
        function->deployment = deployment;
        function->created_at = rfc3339_now();
        function->replicas = initial_replicas(deployment);
        function->logs = std::make_shared<LogBuffer>(deployment.service);
        persist(*function);
        functions_.emplace(deployment.service, std::move(function));
    }
    log_line("Deployed function " + deployment.service);
    wake_.notify_all();
}

void LocalProvider::update(const FunctionDeployment& deployment) {
    {
        std::shared_lock lock(mutex_);
        if (!functions_.count(deployment.service))
            throw NotFound("function " + deployment.service + " not found");
    }
    check_deployable(deployment);
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(deployment.service);
        if (it == functions_.end()) throw NotFound("function " + deployment.service + " not found");
        auto& function = *it->second;
        auto previous = function.deployment;
        function.deployment = deployment;
        try {
            persist(function);
        } catch (...) {
            function.deployment = std::move(previous);
            throw;
        }
        ++function.generation;
    }
    log_line("Updating function " + deployment.service + " (rolling)");
    wake_.notify_all();
}

void LocalProvider::scale(const std::string& name, int replicas) {
    if (replicas < 0 || replicas > options_.max_replicas)
        throw BadRequest("replicas must be between 0 and " + std::to_string(options_.max_replicas));
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) throw NotFound("function " + name + " not found");
        int previous = it->second->replicas;
        it->second->replicas = replicas;
        try {
            persist(*it->second);
        } catch (...) {
            it->second->replicas = previous;
            throw;
        }
    }
    log_line("Scaling function " + name + " to " + std::to_string(replicas) + " replicas");
    wake_.notify_all();
}

void LocalProvider::remove(const std::string& name) {
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) throw NotFound("function " + name + " not found");
        std::error_code ec;
        fs::remove(fs::path(functions_dir_) / (name + ".json"), ec);
        if (ec)
            throw ProviderUnavailable("cannot remove the state of " + name + ": " + ec.message());
        // The replicas drain in the background; the function is gone for the API at once.
        auto now = Clock::now();
        for (auto& replica : it->second->members) {
            replica->stopping = true;
            replica->ready = false;
            replica->kill_at = now + options_.stop_grace;
            if (replica->process) replica->process->terminate();
            retiring_.push_back(replica);
        }
        it->second->logs->close();
        functions_.erase(it);
    }
    log_line("Removed function " + name);
    wake_.notify_all();
}

Resolution LocalProvider::resolve(const std::string& name) {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return {};
    return Resolution{true, it->second->endpoints};
}

std::unique_ptr<LogStream> LocalProvider::logs(const LogQuery& query) {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(query.name);
    if (it == functions_.end()) throw NotFound("function " + query.name + " not found");
    return it->second->logs->stream(query);
}

std::vector<std::string> LocalProvider::list_secrets() {
    std::lock_guard lock(secrets_mutex_);
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(secrets_dir_, ec)) {
        auto name = entry.path().filename().string();
        if (is_valid_secret_name(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

void LocalProvider::create_secret(const std::string& name, const std::string& value) {
    std::lock_guard lock(secrets_mutex_);
    auto path = fs::path(secrets_dir_) / name;
    if (fs::exists(path)) throw AlreadyExists("secret " + name + " already exists");
    write_file_atomically(path, value, 0600);
}

void LocalProvider::update_secret(const std::string& name, const std::string& value) {
    {
        std::lock_guard lock(secrets_mutex_);
        auto path = fs::path(secrets_dir_) / name;
        if (!fs::exists(path)) throw NotFound("secret " + name + " not found");
        write_file_atomically(path, value, 0600);
    }
    // Running replicas that use it see the new value, as with a re-mounted secret.
    std::shared_lock lock(mutex_);
    for (const auto& [function_name, function] : functions_) {
        const auto& used = function->deployment.secrets;
        if (std::find(used.begin(), used.end(), name) == used.end()) continue;
        for (const auto& replica : function->members) {
            try {
                write_file_atomically(fs::path(replica->dir) / "secrets" / name, value, 0400);
            } catch (const std::exception& e) {
                log_line(std::string("Cannot refresh a secret of replica ") + replica->id + ": " +
                         e.what());
            }
        }
    }
}

void LocalProvider::remove_secret(const std::string& name) {
    std::lock_guard lock(secrets_mutex_);
    auto path = fs::path(secrets_dir_) / name;
    std::error_code ec;
    if (!fs::remove(path, ec)) {
        if (ec) throw ProviderUnavailable("cannot remove secret " + name + ": " + ec.message());
        throw NotFound("secret " + name + " not found");
    }
}

std::map<std::string, std::string> LocalProvider::replica_env(const Function& function,
                                                              const Replica& replica) const {
    auto env = options_.base_env;
    for (const auto& [key, value] : function.deployment.env_vars) env[key] = value;
    env["fprocess"] = fprocess_of(function.deployment);
    // The gateway owns the ports (learnt from the watchdog's log line) and takes a replica out
    // of rotation itself before stopping it, so the watchdog need not linger unhealthy.
    env["port"] = "0";
    env["metrics_port"] = "0";
    env["healthcheck_interval"] = "0";
    // Each replica its own TMPDIR: the watchdog's lock file lives there.
    env["TMPDIR"] = (fs::path(replica.dir) / "tmp").string();
    env["secret_mount_path"] = (fs::path(replica.dir) / "secrets").string() + "/";
    return env;
}

void LocalProvider::start_replica_locked(Function& function, Replica& replica) {
    replica.ready = false;
    replica.ever_ready = false;
    replica.restart_at.reset();
    replica.started_at = Clock::now();
    try {
        fs::create_directories(fs::path(replica.dir) / "tmp");
        fs::create_directories(fs::path(replica.dir) / "secrets");
        {
            std::lock_guard lock(secrets_mutex_);
            for (const auto& secret : function.deployment.secrets) {
                auto value = read_file(fs::path(secrets_dir_) / secret);
                if (!value) {
                    log_line("Replica " + replica.id + ": secret " + secret + " is missing");
                    continue;
                }
                write_file_atomically(fs::path(replica.dir) / "secrets" / secret, *value, 0400);
            }
        }
        auto logs = function.logs;
        auto id = replica.id;
        replica.process = std::make_unique<ReplicaProcess>(
            options_.watchdog_path, replica_env(function, replica),
            [logs, id](std::string line) { logs->append(id, std::move(line)); });
        log_line("Started replica " + replica.id + " (pid " +
                 std::to_string(replica.process->pid()) + ")");
    } catch (const std::exception& e) {
        log_line("Cannot start replica " + replica.id + ": " + e.what());
        replica.process.reset();
        auto backoff = std::min<Clock::duration>(
            options_.min_backoff * (1 << std::min(replica.restarts, 16)), options_.max_backoff);
        ++replica.restarts;
        replica.restart_at = Clock::now() + backoff;
    }
}

void LocalProvider::refresh_endpoints_locked(Function& function) {
    std::vector<Endpoint> endpoints;
    for (const auto& replica : function.members)
        if (replica->ready && !replica->stopping && replica->process)
            if (auto port = replica->process->port())
                endpoints.push_back(Endpoint{"127.0.0.1", *port});
    function.endpoints = std::move(endpoints);
}

void LocalProvider::reconcile_locked(Function& function, Clock::time_point now) {
    auto retire = [&](const std::shared_ptr<Replica>& replica) {
        replica->stopping = true;
        replica->ready = false;
        replica->kill_at = now + options_.stop_grace;
        if (replica->process) replica->process->terminate();
        retiring_.push_back(replica);
        function.members.erase(
            std::find(function.members.begin(), function.members.end(), replica));
    };

    // Crashes, restarts, replicas that never became healthy.
    for (auto& replica : function.members) {
        if (replica->process && !replica->process->running()) {
            auto code = replica->process->exit_code().value_or(-1);
            replica->process.reset();
            replica->ready = false;
            auto backoff = std::min<Clock::duration>(
                options_.min_backoff * (1 << std::min(replica->restarts, 16)),
                options_.max_backoff);
            ++replica->restarts;
            replica->restart_at = now + backoff;
            log_line("Replica " + replica->id + " exited with code " + std::to_string(code) +
                     "; restarting in " +
                     std::to_string(
                         std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count()) +
                     "ms");
            continue;
        }
        if (replica->process && !replica->ever_ready &&
            now - replica->started_at > options_.ready_timeout) {
            log_line("Replica " + replica->id + " did not become healthy in time; killing it");
            replica->process->kill_group();  // reaped and restarted on the next pass
            continue;
        }
        if (!replica->process && replica->restart_at && now >= *replica->restart_at &&
            replica->generation == function.generation)
            start_replica_locked(function, *replica);
        if (replica->ready && replica->restarts > 0 && now - replica->ready_since > kStableAfter)
            replica->restarts = 0;
    }

    std::vector<std::shared_ptr<Replica>> fresh;
    std::vector<std::shared_ptr<Replica>> old;
    for (const auto& replica : function.members)
        (replica->generation == function.generation ? fresh : old).push_back(replica);

    // Scale the current generation to the desired count.
    while (static_cast<int>(fresh.size()) < function.replicas) {
        auto replica = std::make_shared<Replica>();
        replica->id = function.deployment.service + "-" + std::to_string(next_replica_serial_++);
        replica->generation = function.generation;
        replica->dir = (fs::path(run_dir_) / function.deployment.service / replica->id).string();
        function.members.push_back(replica);
        fresh.push_back(replica);
        start_replica_locked(function, *replica);
    }
    // Stop the least useful first: not ready, then the newest.
    auto by_usefulness = [](const std::shared_ptr<Replica>& a, const std::shared_ptr<Replica>& b) {
        if (a->ready != b->ready) return !a->ready;
        return a->id > b->id;
    };
    if (static_cast<int>(fresh.size()) > function.replicas) {
        std::sort(fresh.begin(), fresh.end(), by_usefulness);
        auto extra = fresh.size() - static_cast<std::size_t>(function.replicas);
        for (std::size_t i = 0; i < extra; ++i) retire(fresh[i]);
    }
    // Rolling update: an old replica stays until a new one is ready to take its place.
    int ready_fresh = 0;
    for (const auto& replica : fresh)
        if (replica->ready && !replica->stopping) ++ready_fresh;
    auto keep_old = static_cast<std::size_t>(std::max(0, function.replicas - ready_fresh));
    if (old.size() > keep_old) {
        std::sort(old.begin(), old.end(), by_usefulness);
        auto extra = old.size() - keep_old;
        for (std::size_t i = 0; i < extra; ++i) retire(old[i]);
    }
    refresh_endpoints_locked(function);
}

void LocalProvider::check_health() {
    struct Target {
        std::shared_ptr<Replica> replica;
        const ReplicaProcess* process;
        int port;
        Health health = Health::kNoAnswer;
    };
    std::vector<Target> targets;
    auto now = Clock::now();
    {
        std::shared_lock lock(mutex_);
        for (const auto& [name, function] : functions_)
            for (const auto& replica : function->members) {
                if (!replica->process || replica->stopping) continue;
                auto port = replica->process->port();
                if (!port) continue;
                if (replica->ready && now < replica->next_health_check) continue;
                targets.push_back(Target{replica, replica->process.get(), *port});
            }
    }
    if (targets.empty()) return;
    // At once, so one hung replica does not hold up the others' checks (or the supervisor).
    std::vector<std::future<Health>> probes;
    probes.reserve(targets.size());
    for (const auto& target : targets) {
        try {
            probes.push_back(std::async(std::launch::async, probe_health, target.port));
        } catch (const std::system_error&) {  // no thread to be had: probe it in turn
            probes.push_back(std::async(std::launch::deferred, probe_health, target.port));
        }
    }
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i].health = probes[i].get();
    std::unique_lock lock(mutex_);
    now = Clock::now();
    for (auto& target : targets) {
        auto& replica = *target.replica;
        if (replica.stopping || replica.process.get() != target.process) continue;
        replica.next_health_check = now + kHealthInterval;
        const bool ok = target.health == Health::kHealthy;
        replica.unanswered_checks =
            target.health == Health::kNoAnswer ? replica.unanswered_checks + 1 : 0;
        if (ok && !replica.ready) {
            replica.ready = true;
            replica.ever_ready = true;
            replica.ready_since = now;
            log_line("Replica " + replica.id + " ready on port " + std::to_string(target.port));
        } else if (replica.ready && target.health == Health::kUnhealthy) {
            replica.ready = false;
            log_line("Replica " + replica.id + " failed its health check");
        } else if (replica.ready && replica.unanswered_checks >= kHealthRetries) {
            replica.ready = false;
            log_line("Replica " + replica.id + " did not answer " + std::to_string(kHealthRetries) +
                     " health checks in a row: out of rotation until it passes one");
        }
    }
    for (auto& [name, function] : functions_) refresh_endpoints_locked(*function);
}

void LocalProvider::supervise() {
    while (true) {
        {
            std::unique_lock lock(wake_mutex_);
            wake_.wait_for(lock, kSuperviseInterval);
            if (stopping_) return;
        }
        check_health();
        std::vector<std::shared_ptr<Replica>> finished;
        {
            std::unique_lock lock(mutex_);
            auto now = Clock::now();
            for (auto& [name, function] : functions_) reconcile_locked(*function, now);
            for (auto it = retiring_.begin(); it != retiring_.end();) {
                auto& replica = **it;
                bool exited = !replica.process || !replica.process->running();
                if (exited || now >= replica.kill_at) {
                    if (!exited)
                        log_line("Replica " + replica.id + " did not drain in time; killing it");
                    finished.push_back(*it);
                    it = retiring_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        // Killing groups, reaping and removing directories happen outside the lock.
        for (auto& replica : finished) {
            replica->process.reset();
            std::error_code ec;
            fs::remove_all(replica->dir, ec);
            log_line("Stopped replica " + replica->id);
        }
    }
}

void LocalProvider::shutdown() {
    {
        std::lock_guard lock(wake_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (supervisor_.joinable()) supervisor_.join();
    std::vector<std::shared_ptr<Replica>> all;
    {
        std::unique_lock lock(mutex_);
        for (auto& [name, function] : functions_) {
            for (auto& replica : function->members) all.push_back(replica);
            function->members.clear();
            function->endpoints.clear();
            function->logs->close();
        }
        for (auto& replica : retiring_) all.push_back(replica);
        retiring_.clear();
    }
    for (auto& replica : all)
        if (replica->process) replica->process->terminate();
    // Let them drain, bounded by the grace period, then kill whatever is left.
    auto deadline = Clock::now() + options_.stop_grace;
    for (auto& replica : all) {
        while (replica->process && replica->process->running() && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        replica->process.reset();
    }
    std::error_code ec;
    fs::remove_all(run_dir_, ec);
}

}  // namespace faas::gateway
