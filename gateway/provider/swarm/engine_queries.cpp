// Reads of the Engine API shared by the Swarm provider and its endpoint cache.
#include "provider/swarm/engine_queries.h"

#include <algorithm>

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

std::vector<json> running_tasks(const DockerClient& docker, const std::string& service_id) {
    json filters = {{"desired-state", json::array({"running"})}};
    if (!service_id.empty()) filters["service"] = json::array({service_id});
    auto tasks = docker.get_json("/tasks?" + DockerClient::filters(filters));
    std::vector<json> out;
    if (tasks.is_array())
        for (auto& task : tasks) out.push_back(std::move(task));
    return out;
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
