// The Docker Swarm provider: a function is a Swarm service labelled function=true on the
// functions overlay network; every admin operation maps onto the Docker Engine API.
//
// The hot path never waits on Docker: a refresher thread keeps a cache of each function's
// ready task IPs (polled, and sooner when a lookup finds none). When dockerd is down or slow
// the cache stays as it was, so known functions keep answering from known replicas while
// admin calls fail with DockerUnavailable, and the next successful poll brings it back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider/docker_client.h"
#include "provider/function_provider.h"

namespace faas::gateway {

struct SwarmProviderOptions {
    DockerClientOptions docker;
    /// The overlay network functions join (name or ID). Empty: the first network labelled
    /// openfaas=true, as faas-swarm does.
    std::string network;
    std::string function_namespace = "openfaas-fn";
    int max_replicas = 64;
    /// How often the endpoint cache is refreshed from the task list.
    std::chrono::milliseconds refresh_interval{1000};
    /// The least time between two refreshes when lookups ask for one.
    std::chrono::milliseconds min_refresh_gap{200};
};

class SwarmProvider final : public FunctionProvider {
public:
    /// Tries one refresh (bounded by the Docker timeouts) so a restarted gateway knows its
    /// functions before it serves; does not need Docker to be up.
    explicit SwarmProvider(SwarmProviderOptions options);
    ~SwarmProvider() override;

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

    /// Refreshes the endpoint cache now (tests; the refresher does it on its own). Throws
    /// DockerUnavailable.
    void refresh_now();

private:
    struct Cached {
        std::string service_id;
        std::vector<Endpoint> ready;
    };

    std::vector<nlohmann::json> function_services() const;
    std::optional<nlohmann::json> find_service(const std::string& name) const;
    std::vector<nlohmann::json> running_tasks(const std::string& service_id) const;
    FunctionRecord record_of(const nlohmann::json& service, const std::string& name,
                             const std::vector<nlohmann::json>& tasks) const;
    std::string network_id();
    std::map<std::string, std::string> secret_ids(const std::vector<std::string>& names) const;
    /// Throws AlreadyExists when another (non-function) service answers to `name`.
    void check_name_free(const std::string& name) const;
    nlohmann::json build_spec(const FunctionDeployment& deployment, int replicas);
    void update_service(const nlohmann::json& service, nlohmann::json spec,
                        const std::vector<std::string>& headers = {});

    void refresher();
    void request_refresh();

    const SwarmProviderOptions options_;
    DockerClient docker_;

    std::mutex network_mutex_;
    std::string network_id_;  // resolved once

    mutable std::shared_mutex cache_mutex_;
    std::map<std::string, Cached> cache_;

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool refresh_requested_ = false;
    bool stopping_ = false;
    std::thread refresher_;
};

}  // namespace faas::gateway
