// The embedded default provider: every replica is a local fwatchdog child process on a
// loopback port. Deployments and secrets persist under a state directory and come back on
// restart; a supervisor thread brings replicas up, checks their health, rolls updates
// (new replica ready before an old one stops) and restarts crashed replicas with backoff.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "provider/function_provider.h"
#include "provider/log_buffer.h"

namespace faas::gateway {

struct LocalProviderOptions {
    std::string state_dir;
    std::string watchdog_path;
    std::string function_namespace = "openfaas-fn";
    int max_replicas = 64;
    /// How long a stopping replica may drain before its process group is killed.
    std::chrono::milliseconds stop_grace = std::chrono::seconds(10);
    /// A replica not healthy this long after start is killed and restarted.
    std::chrono::milliseconds ready_timeout = std::chrono::seconds(20);
    std::chrono::milliseconds min_backoff = std::chrono::milliseconds(250);
    std::chrono::milliseconds max_backoff = std::chrono::seconds(30);
    /// Variables every replica inherits from the gateway (PATH and friends).
    std::map<std::string, std::string> base_env;
};

class LocalProvider final : public FunctionProvider {
  public:
    /// Creates the state directory, restores persisted deployments and starts the supervisor.
    /// Throws ProviderUnavailable when the state directory cannot be used.
    explicit LocalProvider(LocalProviderOptions options);
    ~LocalProvider() override;

    ProviderInfo info() const override;
    std::vector<FunctionRecord> list() override;
    std::optional<FunctionRecord> get(const std::string& name) override;
    void deploy(const FunctionDeployment& deployment) override;
    void update(const FunctionDeployment& deployment) override;
    void scale(const std::string& name, int replicas) override;
    void remove(const std::string& name) override;
    Resolution resolve(const std::string& name) override;
    std::unique_ptr<LogStream> logs(const LogQuery& query) override;
    std::vector<std::string> list_secrets() override;
    void create_secret(const std::string& name, const std::string& value) override;
    void update_secret(const std::string& name, const std::string& value) override;
    void remove_secret(const std::string& name) override;
    void shutdown() override;

  private:
    struct Replica;
    struct Function;

    void restore();
    void persist(const Function& function) const;
    void check_deployable(const FunctionDeployment& deployment) const;
    int initial_replicas(const FunctionDeployment& deployment) const;
    FunctionRecord record_of(const Function& function) const;

    void supervise();
    void reconcile_locked(Function& function, std::chrono::steady_clock::time_point now);
    void start_replica_locked(Function& function, Replica& replica);
    void check_health();
    void refresh_endpoints_locked(Function& function);
    std::map<std::string, std::string> replica_env(const Function& function,
                                                   const Replica& replica) const;

    const LocalProviderOptions options_;
    std::string functions_dir_;
    std::string secrets_dir_;
    std::string run_dir_;

    // Guards functions_ and everything reachable from it. Shared on the hot path (resolve).
    mutable std::shared_mutex mutex_;
    std::map<std::string, std::unique_ptr<Function>> functions_;
    std::vector<std::shared_ptr<Replica>> retiring_;  // draining, then destroyed
    std::uint64_t next_replica_serial_ = 0;
    // Serialises secret file writes against the copies made for new replicas.
    mutable std::mutex secrets_mutex_;

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread supervisor_;
};

}  // namespace faas::gateway
