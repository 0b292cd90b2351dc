// The local provider's replicas: a thread that brings each function's fwatchdog children to
// the count wanted, probes their health, rolls updates (a new replica ready before an old one
// stops), restarts crashed replicas with backoff and retires the ones no longer wanted. It owns
// the table of running functions; LocalProvider validates and persists, then tells it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "endpoint.h"
#include "function_types.h"
#include "provider/local/health_probe.h"
#include "provider/local/local_images.h"
#include "provider/local/log_buffer.h"
#include "provider/local/state_store.h"

namespace faas::gateway {

class ReplicaProcess;

struct SupervisorOptions {
    std::string watchdog_path;
    /// How long a stopping replica may drain before its process group is killed.
    std::chrono::milliseconds stop_grace = std::chrono::seconds(10);
    /// A replica not healthy this long after start is killed and restarted.
    std::chrono::milliseconds ready_timeout = std::chrono::seconds(20);
    std::chrono::milliseconds min_backoff = std::chrono::milliseconds(250);
    std::chrono::milliseconds max_backoff = std::chrono::seconds(30);
    /// Variables every replica inherits from the gateway (PATH and friends).
    std::map<std::string, std::string> base_env;
    /// Where a deployment's image may name a folder the gateway built; null: none.
    const LocalImages* images = nullptr;
    /// Replicas see their secrets at kFunctionSecretsPath, in a mount namespace each; false:
    /// in their own folder (secret_mount_path says where).
    bool mount_secrets = false;
};

/// Thread-safe. The table is guarded by a shared mutex so that resolve(), the hot path, only
/// takes it shared; the probes run without it.
class ReplicaSupervisor {
  public:
    /// Starts the supervising thread. `store` gives the replicas' directories and secrets and
    /// must outlive the supervisor.
    ReplicaSupervisor(SupervisorOptions options, const StateStore& store);
    ~ReplicaSupervisor();
    ReplicaSupervisor(const ReplicaSupervisor&) = delete;
    ReplicaSupervisor& operator=(const ReplicaSupervisor&) = delete;

    /// A function to run; the caller has checked that the name is new.
    void add(const StoredFunction& function);
    /// What is stored for `name`, with the replica count wanted now.
    std::optional<StoredFunction> stored(const std::string& name) const;
    std::vector<FunctionRecord> records() const;
    std::optional<FunctionRecord> record(const std::string& name) const;
    /// Ready replicas, and as `starting` those whose watchdog listens but that are not in
    /// rotation; as of the last pass (a new replica shows up within one supervising interval).
    Resolution resolve(const std::string& name) const;
    /// The function's log lines; null when there is no such function.
    std::shared_ptr<LogBuffer> logs(const std::string& name) const;

    /// Rolls the function's replicas onto `deployment`; false when there is no such function.
    bool replace(const FunctionDeployment& deployment);
    /// False when there is no such function.
    bool set_replicas(const std::string& name, int replicas);
    /// Retires every replica of the function (they drain in the background); false when there
    /// is no such function.
    bool remove(const std::string& name);
    /// Writes a secret's new value into the running replicas that use it, as with a re-mounted
    /// secret.
    void refresh_secret(const std::string& name, const std::string& value);

    /// Stops the thread, then every replica (drained up to stop_grace); idempotent.
    void stop();

  private:
    struct Replica;
    struct Function;
    using Clock = std::chrono::steady_clock;

    /// A health probe running while the supervisor goes on.
    struct Probe {
        std::weak_ptr<Replica> replica;
        const ReplicaProcess* process;  ///< The answer counts only if it is still this process.
        int port;
        std::future<Health> answer;
    };

    FunctionRecord record_of(const Function& function) const;
    void supervise();
    void check_health();
    void log_change(const Replica& replica, HealthRecord::Change change, int port);
    void reconcile_locked(Function& function, Clock::time_point now);
    void restart_crashed_locked(Function& function, Replica& replica, Clock::time_point now);
    void start_replica_locked(Function& function, Replica& replica);
    void retire_locked(const std::shared_ptr<Replica>& replica, Clock::time_point now);
    std::vector<std::shared_ptr<Replica>> take_finished_locked(Clock::time_point now);
    Clock::duration backoff(Replica& replica) const;
    void wake();

    const SupervisorOptions options_;
    const StateStore& store_;

    mutable std::shared_mutex mutex_;
    std::map<std::string, std::unique_ptr<Function>> functions_;
    std::vector<std::shared_ptr<Replica>> retiring_;  // draining, then destroyed
    std::uint64_t next_replica_serial_ = 0;
    std::vector<Probe> probes_;  // the supervising thread's own

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace faas::gateway
