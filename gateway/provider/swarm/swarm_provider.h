// The Docker Swarm provider's API: a function is a Swarm service labelled function=true on the
// functions overlay network, and every admin operation maps onto the Docker Engine API. The
// hot path (resolve) is the EndpointCache's and never waits on Docker; admin calls fail with
// DockerUnavailable while dockerd is down or slow.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "provider/function_provider.h"
#include "provider/swarm/docker_client.h"
#include "provider/swarm/endpoint_cache.h"
#include "provider/swarm/engine_queries.h"

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
    std::optional<nlohmann::json> find_service(const std::string& name) const;
    FunctionRecord record_of(const nlohmann::json& service, const std::string& name,
                             const std::vector<nlohmann::json>& tasks) const;
    std::map<std::string, std::string> secret_ids(const std::vector<std::string>& names) const;
    /// Throws AlreadyExists when another (non-function) service answers to `name`.
    void check_name_free(const std::string& name) const;
    nlohmann::json build_spec(const FunctionDeployment& deployment, int replicas);
    void update_service(const nlohmann::json& service, nlohmann::json spec,
                        const std::vector<std::string>& headers = {});
    /// Scales a function labelled com.openfaas.scale.zero-mode=pause to zero by pausing its
    /// tasks (task_pause.h); false when it is not so labelled or cannot be paused here.
    bool pause_in_place(const nlohmann::json& service, const std::string& name);

    const SwarmProviderOptions options_;
    DockerClient docker_;
    swarm::FunctionsNetwork network_;
    swarm::EndpointCache cache_;
};

}  // namespace faas::gateway
