// Pausing a function's task containers in place, through the Engine API.
#include "provider/swarm/task_pause.h"

#include <set>

#include "provider/swarm/service_mapping.h"

namespace faas::gateway::swarm {
namespace {

using nlohmann::json;

/// IDs of this node's containers of the service, only the paused ones if `paused_only`.
std::set<std::string> service_containers(const DockerClient& docker, const std::string& service_id,
                                         bool paused_only) {
    json filters = {{"label", json::array({"com.docker.swarm.service.id=" + service_id})}};
    if (paused_only) filters["status"] = json::array({"paused"});
    auto containers = docker.get_json("/containers/json?" + DockerClient::filters(filters));
    std::set<std::string> ids;
    if (containers.is_array())
        for (const auto& container : containers)
            if (container.is_object() && container.value("Id", "") != "")
                ids.insert(container.value("Id", ""));
    return ids;
}

}  // namespace

bool service_paused(const json& service) {
    const json* labels = nullptr;
    if (auto spec = service.find("Spec"); spec != service.end() && spec->is_object())
        if (auto found = spec->find("Labels"); found != spec->end() && found->is_object())
            labels = &*found;
    return labels != nullptr && labels->value(kPausedLabel, "") == "true";
}

std::optional<std::vector<std::string>> pausable_containers(const DockerClient& docker,
                                                            const std::string& service_id,
                                                            const std::vector<json>& tasks) {
    const auto local = service_containers(docker, service_id, false);
    std::vector<std::string> out;
    for (const auto& task : tasks) {
        if (task.value("ServiceID", "") != service_id) continue;
        const auto container =
            task.value("/Status/ContainerStatus/ContainerID"_json_pointer, std::string());
        // A task still "starting" (before Docker's first health check) is paused as it is:
        // its health check runs once it is unpaused.
        if (!(task_ready(task) || task_starting(task)) || container.empty() ||
            local.count(container) == 0)
            return std::nullopt;
        out.push_back(container);
    }
    return out;
}

void pause_containers(const DockerClient& docker, const std::vector<std::string>& containers) {
    std::vector<std::string> paused;
    try {
        for (const auto& id : containers) {
            auto response = docker.request("POST", "/containers/" + id + "/pause");
            if (!response.ok())
                throw_engine_error("pausing container " + id.substr(0, 12), response);
            paused.push_back(id);
        }
    } catch (const std::exception&) {
        for (const auto& id : paused) {
            try {
                docker.request("POST", "/containers/" + id + "/unpause");
            } catch (const std::exception&) {
                // The engine went away: the next wake unpauses what is left.
            }
        }
        throw;
    }
}

int unpause_service(const DockerClient& docker, const std::string& service_id) {
    int count = 0;
    for (const auto& id : service_containers(docker, service_id, true)) {
        auto response = docker.request("POST", "/containers/" + id + "/unpause");
        // 409/500 "not paused": it was unpaused meanwhile, which is what was wanted.
        if (response.ok()) ++count;
    }
    return count;
}

}  // namespace faas::gateway::swarm
