// The embedded default provider: every replica is a local fwatchdog child process on a
// loopback port. This is its API: it checks and persists each change (StateStore), then hands
// it to the ReplicaSupervisor, which runs the replicas.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "provider/function_provider.h"
#include "provider/local/local_images.h"
#include "provider/local/replica_supervisor.h"
#include "provider/local/state_store.h"

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
    /// Replicas see their secrets at /var/openfaas/secrets (secret_mounts_available()).
    bool mount_secrets = false;
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
    void check(const FunctionDeployment& deployment);

    const int max_replicas_;
    StateStore store_;
    LocalImages images_;  ///< Versions built by the gateway (state_dir/images).
    // Serialises changes to deployments (check, persist, then tell the supervisor) so that
    // the files and the running table never disagree.
    std::mutex changes_mutex_;
    ReplicaSupervisor supervisor_;
};

}  // namespace faas::gateway
