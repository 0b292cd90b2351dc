// Reads of the Engine API shared by the Swarm provider and its endpoint cache.
#include "provider/swarm/engine_queries.h"

#include <algorithm>
#include <set>

#include "provider/swarm/service_mapping.h"

namespace faas::gateway::swarm {

using nlohmann::json;

std::vector<json> function_services(const DockerClient& docker) {
    auto services = docker.get_json(
        "/services?" +
        DockerClient::filters({{"label", json::array({std::string(kFunctionLabel) + "=true"})}}));
    std::vector<json> out;
    if (services.is_array())
        for (auto& service : services)
            if (function_name_of(service)) out.push_back(std::move(service));
    return out;
}

namespace {

/// Nodes Swarm sees as down, disconnected or unknown. Best effort: none when the engine does
/// not say (an older engine, a test's fake).
std::set<std::string> unready_nodes(const DockerClient& docker) {
    std::set<std::string> unready;
    auto response = docker.request("GET", "/nodes");
    if (!response.ok()) return unready;
    auto nodes = json::parse(response.body, nullptr, false);
    if (!nodes.is_array()) return unready;
    for (const auto& node : nodes)
        if (node.is_object() &&
            node.value("/Status/State"_json_pointer, std::string("ready")) != "ready")
            unready.insert(node.value("ID", ""));
    return unready;
}

}  // namespace

std::vector<json> running_tasks(const DockerClient& docker, const std::string& service_id) {
    json filters = {{"desired-state", json::array({"running"})}};
    if (!service_id.empty()) filters["service"] = json::array({service_id});
    auto tasks = docker.get_json("/tasks?" + DockerClient::filters(filters));
    std::vector<json> out;
    if (!tasks.is_array()) return out;
    const auto unready = unready_nodes(docker);
    for (auto& task : tasks)
        if (unready.empty() || !unready.count(task.value("NodeID", "")))
            out.push_back(std::move(task));
    return out;
}

std::string task_problem(const DockerClient& docker, const std::string& service_id) {
    auto tasks = docker.get_json("/tasks?" +
                                 DockerClient::filters({{"service", json::array({service_id})}}));
    if (!tasks.is_array()) return {};
    std::string newest_running;  // RFC 3339 timestamps, compared as text
    std::string problem_at;
    std::string problem;
    for (const auto& task : tasks) {
        if (!task.is_object()) continue;
        const auto at = task.value("/Status/Timestamp"_json_pointer, std::string());
        const auto state = task.value("/Status/State"_json_pointer, std::string());
        const auto error = task.value("/Status/Err"_json_pointer, std::string());
        if (state == "running") newest_running = std::max(newest_running, at);
        if (!error.empty() && at >= problem_at) {
            problem_at = at;
            problem = state + ": " + error;
        }
    }
    if (problem.empty() || problem_at < newest_running) return {};
    // One line, bounded: the engine's messages are single lines, but not ours to trust.
    std::replace(problem.begin(), problem.end(), '\n', ' ');
    if (problem.size() > 300) problem = problem.substr(0, 297) + "...";
    return problem;
}

std::vector<json> function_secrets(const DockerClient& docker) {
    auto secrets = docker.get_json(
        "/secrets?" +
        DockerClient::filters({{"label", json::array({std::string(kSecretLabel) + "=true"})}}));
    std::vector<json> out;
    if (secrets.is_array())
        for (auto& secret : secrets) out.push_back(std::move(secret));
    return out;
}

std::string secret_name(const json& secret) {
    auto spec = secret.find("Spec");
    if (spec == secret.end() || !spec->is_object()) return {};
    return spec->value("Name", "");
}

FunctionsNetwork::FunctionsNetwork(const DockerClient& docker, std::string configured)
    : docker_(docker), configured_(std::move(configured)) {}

std::string FunctionsNetwork::known() const {
    std::lock_guard lock(mutex_);
    return id_;
}

std::string FunctionsNetwork::id() {
    std::lock_guard lock(mutex_);
    if (!id_.empty()) return id_;
    if (!configured_.empty()) {
        auto response =
            docker_.request("GET", "/networks/" + DockerClient::url_encode(configured_));
        if (!response.ok())
            throw ProviderUnavailable("functions network '" + configured_ +
                                      "': " + response.message());
        auto network = json::parse(response.body, nullptr, false);
        id_ = network.is_object() ? network.value("Id", "") : "";
    } else {
        auto networks = docker_.get_json(
            "/networks?" + DockerClient::filters({{"label", json::array({"openfaas=true"})}}));
        std::vector<std::pair<std::string, std::string>> candidates;  // name, id
        if (networks.is_array())
            for (const auto& network : networks)
                if (network.value("Driver", "") == "overlay")
                    candidates.emplace_back(network.value("Name", ""), network.value("Id", ""));
        std::sort(candidates.begin(), candidates.end());
        if (!candidates.empty()) id_ = candidates.front().second;
    }
    if (id_.empty())
        throw ProviderUnavailable(
            "no functions network: set functions_network or label an overlay network "
            "openfaas=true");
    return id_;
}

}  // namespace faas::gateway::swarm
