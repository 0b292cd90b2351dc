// Scale to zero by pausing (com.openfaas.scale.zero-mode=pause): a function's task containers
// are frozen in place (the cgroup freezer, `docker pause`) instead of removed, so waking is an
// unpause (tens of ms) instead of a new task (over a second). Swarm keeps the tasks: a paused
// container is still "running" to it and its health check does not run while frozen. The
// service carries kPausedLabel (service_mapping.h) while paused, so the state survives a gateway
// restart.
//
// Only containers on the node whose engine the gateway talks to can be paused; a function with
// a task elsewhere is scaled to zero the usual way.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "provider/swarm/docker_client.h"

namespace faas::gateway::swarm {

/// Whether the service (as /services returns it) is paused.
bool service_paused(const nlohmann::json& service);

/// The containers of the service's tasks, when every task Swarm wants running is running (or
/// starting) on this node; nullopt when one has no container yet or runs on another node.
std::optional<std::vector<std::string>> pausable_containers(
    const DockerClient& docker, const std::string& service_id,
    const std::vector<nlohmann::json>& tasks);

/// Pauses every container, or none: on a failure the ones paused are unpaused and the engine's
/// error is thrown.
void pause_containers(const DockerClient& docker, const std::vector<std::string>& containers);

/// Unpauses every paused container of the service on this node; returns how many.
int unpause_service(const DockerClient& docker, const std::string& service_id);

}  // namespace faas::gateway::swarm
