// Supervising the local provider's replicas.
#include "provider/local/replica_supervisor.h"

#include <algorithm>
#include <filesystem>

#include "log.h"
#include "provider/local/replica_process.h"
#include "provider/local/replica_setup.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;

constexpr auto kSuperviseInterval = std::chrono::milliseconds(100);
// While a replica is new and not yet ready, passes come this often, so that its port and its
// first healthy answer are known within tens of ms (a call may be waiting for it).
constexpr auto kStartingInterval = std::chrono::milliseconds(10);
constexpr auto kStartingWindow = std::chrono::seconds(3);
// A replica this long in rotation after a restart has its backoff forgotten.
constexpr auto kStableAfter = std::chrono::seconds(10);

}  // namespace

struct ReplicaSupervisor::Replica {
    std::string id;
    int generation = 0;
    std::string dir;
    std::unique_ptr<ReplicaProcess> process;
    Clock::time_point started_at;
    HealthRecord health;
    bool probing = false;  ///< A probe of it is running.
    int restarts = 0;
    std::optional<Clock::time_point> restart_at;
    bool stopping = false;
    Clock::time_point kill_at;
};

struct ReplicaSupervisor::Function {
    StoredFunction stored;
    int generation = 0;
    std::vector<std::shared_ptr<Replica>> members;
    std::shared_ptr<LogBuffer> logs;
    std::vector<Endpoint> endpoints;  ///< Ready replicas, rebuilt on every change.
    /// Replicas listening but not in rotation (not yet, or not again), rebuilt with endpoints.
    std::vector<Endpoint> starting;

    void refresh_endpoints() {
        endpoints.clear();
        starting.clear();
        for (const auto& replica : members) {
            if (replica->stopping || !replica->process) continue;
            if (auto port = replica->process->port())
                (replica->health.ready() ? endpoints : starting)
                    .push_back(Endpoint{"127.0.0.1", *port});
        }
    }
};

ReplicaSupervisor::ReplicaSupervisor(SupervisorOptions options, const StateStore& store)
    : options_(std::move(options)), store_(store), thread_([this] { supervise(); }) {}

ReplicaSupervisor::~ReplicaSupervisor() {
    stop();
}

void ReplicaSupervisor::wake() {
    wake_.notify_all();
}

void ReplicaSupervisor::add(const StoredFunction& stored) {
    {
        std::unique_lock lock(mutex_);
        auto function = std::make_unique<Function>();
        function->stored = stored;
        function->logs = std::make_shared<LogBuffer>(stored.deployment.service);
        functions_[stored.deployment.service] = std::move(function);
    }
    wake();
}

std::optional<StoredFunction> ReplicaSupervisor::stored(const std::string& name) const {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return std::nullopt;
    return it->second->stored;
}

FunctionRecord ReplicaSupervisor::record_of(const Function& function) const {
    FunctionRecord record;
    record.deployment = function.stored.deployment;
    record.replicas = function.stored.replicas;
    record.available_replicas = static_cast<int>(function.endpoints.size());
    record.created_at = function.stored.created_at;
    record.rolling = std::any_of(function.members.begin(), function.members.end(),
                                 [&function](const std::shared_ptr<Replica>& replica) {
                                     return replica->generation != function.generation;
                                 });
    return record;
}

std::vector<FunctionRecord> ReplicaSupervisor::records() const {
    std::shared_lock lock(mutex_);
    std::vector<FunctionRecord> out;
    out.reserve(functions_.size());
    for (const auto& [name, function] : functions_) out.push_back(record_of(*function));
    return out;
}

std::optional<FunctionRecord> ReplicaSupervisor::record(const std::string& name) const {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return std::nullopt;
    return record_of(*it->second);
}

Resolution ReplicaSupervisor::resolve(const std::string& name) const {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return {};
    // Starting replicas only matter while none is ready: no copy of them on the hot path.
    if (!it->second->endpoints.empty()) return Resolution{true, it->second->endpoints, {}};
    return Resolution{true, {}, it->second->starting};
}

std::shared_ptr<LogBuffer> ReplicaSupervisor::logs(const std::string& name) const {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(name);
    return it == functions_.end() ? nullptr : it->second->logs;
}

bool ReplicaSupervisor::replace(const FunctionDeployment& deployment) {
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(deployment.service);
        if (it == functions_.end()) return false;
        it->second->stored.deployment = deployment;
        ++it->second->generation;
    }
    wake();
    return true;
}

bool ReplicaSupervisor::set_replicas(const std::string& name, int replicas) {
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) return false;
        it->second->stored.replicas = replicas;
    }
    wake();
    return true;
}

bool ReplicaSupervisor::remove(const std::string& name) {
    {
        std::unique_lock lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) return false;
        // The replicas drain in the background; the function is gone for the API at once.
        auto now = Clock::now();
        for (auto& replica : it->second->members) retire_locked(replica, now);
        it->second->logs->close();
        functions_.erase(it);
    }
    wake();
    return true;
}

void ReplicaSupervisor::refresh_secret(const std::string& name, const std::string& value) {
    std::shared_lock lock(mutex_);
    for (const auto& [function_name, function] : functions_) {
        const auto& used = function->stored.deployment.secrets;
        if (std::find(used.begin(), used.end(), name) == used.end()) continue;
        for (const auto& replica : function->members) {
            try {
                write_file_atomically((fs::path(secrets_dir_of(replica->dir)) / name).string(),
                                      value, 0400);
            } catch (const std::exception& e) {
                log_line("Cannot refresh a secret of replica " + replica->id + ": " + e.what());
            }
        }
    }
}

ReplicaSupervisor::Clock::duration ReplicaSupervisor::backoff(Replica& replica) const {
    auto delay = std::min<Clock::duration>(
        options_.min_backoff * (1 << std::min(replica.restarts, 16)), options_.max_backoff);
    ++replica.restarts;
    return delay;
}

void ReplicaSupervisor::start_replica_locked(Function& function, Replica& replica) {
    replica.health.reset();
    replica.restart_at.reset();
    replica.started_at = Clock::now();
    try {
        const auto& deployment = function.stored.deployment;
        prepare_replica_dir(replica.dir, replica.id, deployment, store_);
        // A built version runs from its folder, with its template's settings.
        std::optional<LocalImage> image;
        if (options_.images != nullptr) image = options_.images->find(deployment.image);
        auto logs = function.logs;
        auto id = replica.id;
        const ReplicaFiles files =
            replica_files(replica.dir, image ? &*image : nullptr, options_.mount_secrets);
        replica.process = std::make_unique<ReplicaProcess>(
            options_.watchdog_path,
            replica_environment(options_.base_env, deployment, replica.dir, files,
                                image ? &*image : nullptr),
            [logs, id](std::string line) { logs->append(id, std::move(line)); }, files);
        log_line("Started replica " + replica.id + " (pid " +
                 std::to_string(replica.process->pid()) + ")");
    } catch (const std::exception& e) {
        log_line("Cannot start replica " + replica.id + ": " + e.what());
        replica.process.reset();
        replica.restart_at = Clock::now() + backoff(replica);
    }
}

void ReplicaSupervisor::retire_locked(const std::shared_ptr<Replica>& replica,
                                      Clock::time_point now) {
    replica->stopping = true;
    replica->health.leave();
    replica->kill_at = now + options_.stop_grace;
    if (replica->process) replica->process->terminate();
    retiring_.push_back(replica);
}

void ReplicaSupervisor::restart_crashed_locked(Function& function, Replica& replica,
                                               Clock::time_point now) {
    if (replica.process && !replica.process->running()) {
        auto code = replica.process->exit_code().value_or(-1);
        replica.process.reset();
        replica.health.leave();
        auto delay = backoff(replica);
        replica.restart_at = now + delay;
        log_line(
            "Replica " + replica.id + " exited with code " + std::to_string(code) +
            "; restarting in " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) +
            "ms");
        return;
    }
    if (replica.process && !replica.health.ever_ready() &&
        now - replica.started_at > options_.ready_timeout) {
        log_line("Replica " + replica.id + " did not become healthy in time; killing it");
        replica.process->kill_group();  // reaped and restarted on the next pass
        return;
    }
    if (!replica.process && replica.restart_at && now >= *replica.restart_at &&
        replica.generation == function.generation)
        start_replica_locked(function, replica);
    if (replica.health.ready() && replica.restarts > 0 &&
        now - replica.health.ready_since() > kStableAfter)
        replica.restarts = 0;
}

void ReplicaSupervisor::reconcile_locked(Function& function, Clock::time_point now) {
    for (auto& replica : function.members) restart_crashed_locked(function, *replica, now);

    std::vector<std::shared_ptr<Replica>> fresh;
    std::vector<std::shared_ptr<Replica>> old;
    for (const auto& replica : function.members)
        (replica->generation == function.generation ? fresh : old).push_back(replica);
    const int wanted = function.stored.replicas;
    const auto& name = function.stored.deployment.service;

    // Scale the current generation to the desired count.
    while (static_cast<int>(fresh.size()) < wanted) {
        auto replica = std::make_shared<Replica>();
        replica->id = name + "-" + std::to_string(next_replica_serial_++);
        replica->generation = function.generation;
        replica->dir = (fs::path(store_.run_dir()) / name / replica->id).string();
        function.members.push_back(replica);
        fresh.push_back(replica);
        start_replica_locked(function, *replica);
    }
    auto retire = [&](const std::shared_ptr<Replica>& replica) {
        retire_locked(replica, now);
        function.members.erase(
            std::find(function.members.begin(), function.members.end(), replica));
    };
    // Stop the least useful first: not ready, then the newest.
    auto by_usefulness = [](const std::shared_ptr<Replica>& a, const std::shared_ptr<Replica>& b) {
        if (a->health.ready() != b->health.ready()) return !a->health.ready();
        return a->id > b->id;
    };
    if (static_cast<int>(fresh.size()) > wanted) {
        std::sort(fresh.begin(), fresh.end(), by_usefulness);
        auto extra = fresh.size() - static_cast<std::size_t>(wanted);
        for (std::size_t i = 0; i < extra; ++i) retire(fresh[i]);
    }
    // Rolling update: an old replica stays until a new one is ready to take its place.
    int ready_fresh = 0;
    for (const auto& replica : fresh)
        if (replica->health.ready() && !replica->stopping) ++ready_fresh;
    auto keep_old = static_cast<std::size_t>(std::max(0, wanted - ready_fresh));
    if (old.size() > keep_old) {
        std::sort(old.begin(), old.end(), by_usefulness);
        auto extra = old.size() - keep_old;
        for (std::size_t i = 0; i < extra; ++i) retire(old[i]);
    }
    function.refresh_endpoints();
}

void ReplicaSupervisor::check_health() {
    // Answers that are in, recorded under the lock; a probe still running waits for a later
    // pass, so a hung replica holds up neither the others' probes nor reconciling.
    std::vector<std::pair<Probe, Health>> answered;
    for (auto it = probes_.begin(); it != probes_.end();) {
        if (it->answer.wait_for(std::chrono::seconds(0)) == std::future_status::timeout) {
            ++it;
            continue;
        }
        auto health = it->answer.get();
        answered.emplace_back(std::move(*it), health);
        it = probes_.erase(it);
    }
    std::vector<Probe> started;
    {
        std::unique_lock lock(mutex_);
        auto now = Clock::now();
        for (auto& [probe, health] : answered) {
            auto replica = probe.replica.lock();
            if (!replica) continue;
            replica->probing = false;
            if (replica->stopping || replica->process.get() != probe.process) continue;
            log_change(*replica, replica->health.record(health, now), probe.port);
        }
        if (!answered.empty())
            for (auto& [name, function] : functions_) function->refresh_endpoints();
        for (const auto& [name, function] : functions_)
            for (const auto& replica : function->members) {
                if (!replica->process || replica->stopping || replica->probing ||
                    !replica->health.due(now))
                    continue;
                auto port = replica->process->port();
                if (!port) continue;
                replica->probing = true;
                started.push_back(Probe{replica, replica->process.get(), *port, {}});
            }
    }
    for (auto& probe : started) {
        probe.answer = start_probe(probe.port);
        probes_.push_back(std::move(probe));
    }
}

void ReplicaSupervisor::log_change(const Replica& replica, HealthRecord::Change change, int port) {
    switch (change) {
        case HealthRecord::Change::kJoined:
            log_line("Replica " + replica.id + " ready on port " + std::to_string(port));
            break;
        case HealthRecord::Change::kFailed:
            log_line("Replica " + replica.id + " failed its health check");
            break;
        case HealthRecord::Change::kUnanswered:
            log_line("Replica " + replica.id + " did not answer " +
                     std::to_string(HealthRecord::kRetries) +
                     " health checks in a row: out of rotation until it passes one");
            break;
        case HealthRecord::Change::kNone:
            break;
    }
}

std::vector<std::shared_ptr<ReplicaSupervisor::Replica>> ReplicaSupervisor::take_finished_locked(
    Clock::time_point now) {
    std::vector<std::shared_ptr<Replica>> finished;
    for (auto it = retiring_.begin(); it != retiring_.end();) {
        auto& replica = **it;
        bool exited = !replica.process || !replica.process->running();
        if (exited || now >= replica.kill_at) {
            if (!exited) log_line("Replica " + replica.id + " did not drain in time; killing it");
            finished.push_back(*it);
            it = retiring_.erase(it);
        } else {
            ++it;
        }
    }
    return finished;
}

void ReplicaSupervisor::supervise() {
    bool starting = false;
    while (true) {
        {
            std::unique_lock lock(wake_mutex_);
            wake_.wait_for(lock, starting ? kStartingInterval : kSuperviseInterval);
            if (stopping_) return;
        }
        check_health();
        std::vector<std::shared_ptr<Replica>> finished;
        {
            std::unique_lock lock(mutex_);
            auto now = Clock::now();
            starting = false;
            for (auto& [name, function] : functions_) {
                reconcile_locked(*function, now);
                for (const auto& replica : function->members)
                    starting = starting || (replica->process && !replica->stopping &&
                                            !replica->health.ever_ready() &&
                                            now - replica->started_at < kStartingWindow);
            }
            finished = take_finished_locked(now);
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

void ReplicaSupervisor::stop() {
    {
        std::lock_guard lock(wake_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
    probes_.clear();  // waits for the probes still running: each ends within its timeouts
    std::vector<std::shared_ptr<Replica>> all;
    {
        std::unique_lock lock(mutex_);
        for (auto& [name, function] : functions_) {
            for (auto& replica : function->members) all.push_back(replica);
            function->members.clear();
            function->endpoints.clear();
            function->starting.clear();
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
    fs::remove_all(store_.run_dir(), ec);
}

}  // namespace faas::gateway
