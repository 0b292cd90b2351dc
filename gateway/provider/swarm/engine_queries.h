// The Engine API reads that both the Swarm provider and its endpoint cache make: the services
// that are functions, running tasks, the secrets made for functions, and the functions
// network. Each throws DockerUnavailable, or ProviderUnavailable on an engine error.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "provider/swarm/docker_client.h"

namespace faas::gateway::swarm {

/// Services labelled function=true that name a function.
std::vector<nlohmann::json> function_services(const DockerClient& docker);
/// Tasks Swarm wants running, of one service or (`service_id` empty) of all, but those on a node
/// Swarm does not see as ready: a node that is down still lists its tasks as running until the
/// manager replaces them, and nothing answers there.
std::vector<nlohmann::json> running_tasks(const DockerClient& docker,
                                          const std::string& service_id);
/// Secrets labelled openfaas=true: the gateway's own (basic auth) are not functions' to mount.
std::vector<nlohmann::json> function_secrets(const DockerClient& docker);
/// The name in a secret object ("" when it has none).
std::string secret_name(const nlohmann::json& secret);

/// The overlay network functions join: `functions_network` when set, else the first (by name)
/// overlay network labelled openfaas=true, as faas-swarm does. Looked up until found, then
/// kept. Thread-safe.
class FunctionsNetwork {
  public:
    FunctionsNetwork(const DockerClient& docker, std::string configured);

    /// Throws ProviderUnavailable when there is no such network, DockerUnavailable.
    std::string id();
    /// The ID once found, else empty; never asks the engine.
    std::string known() const;

  private:
    const DockerClient& docker_;
    const std::string configured_;
    mutable std::mutex mutex_;
    std::string id_;
};

/// Why the service has fewer replicas than wanted, in one line, from its newest task that
/// failed or was rejected (e.g. "rejected: No such image: registry:5000/fn:1") when nothing
/// newer runs; empty when no task says.
std::string task_problem(const DockerClient& docker, const std::string& service_id);

}  // namespace faas::gateway::swarm
