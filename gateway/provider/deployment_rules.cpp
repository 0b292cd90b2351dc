// The checks both providers share, and the status labels they both report.
#include "provider/deployment_rules.h"

#include <algorithm>

#include "autoscale/scale_policy.h"
#include "provider/function_provider.h"
#include "scaling.h"
#include "settings.h"

namespace faas::gateway {
namespace {

// A label's whole number in lo..hi; nullopt when absent. Throws BadRequest otherwise.
std::optional<int> label_in_range(const FunctionDeployment& deployment, const char* key, int lo,
                                  int hi) {
    auto it = deployment.labels.find(key);
    if (it == deployment.labels.end()) return std::nullopt;
    auto value = parse_int(it->second);
    if (!value || *value < lo || *value > hi)
        throw BadRequest(std::string("label ") + key + " must be a number from " +
                         std::to_string(lo) + " to " + std::to_string(hi));
    return static_cast<int>(*value);
}

}  // namespace

void check_deployment(const FunctionDeployment& deployment, FunctionProvider& secrets,
                      int max_replicas) {
    auto min = label_in_range(deployment, kScaleMinLabel, 0, max_replicas);
    auto max = label_in_range(deployment, kScaleMaxLabel, 0, max_replicas);
    label_in_range(deployment, kScaleFactorLabel, 0, 100);
    if (min && max && *min > *max)
        throw BadRequest(std::string("label ") + kScaleMinLabel + " must not be above " +
                         kScaleMaxLabel);
    // The autoscaler's labels (type, target, target-proportion, zero, zero-duration).
    if (auto error = scale_policy_error(deployment.labels)) throw BadRequest("label " + *error);
    if (deployment.secrets.empty()) return;
    auto known = secrets.list_secrets();
    for (const auto& secret : deployment.secrets)
        if (std::find(known.begin(), known.end(), secret) == known.end())
            throw NotFound("secret " + secret + " not found");
}

void check_replicas(int replicas, int max_replicas) {
    if (replicas < 0 || replicas > max_replicas)
        throw BadRequest("replicas must be from 0 to " + std::to_string(max_replicas));
}

int initial_replicas(const FunctionDeployment& deployment, int max_replicas) {
    return label_in_range(deployment, kScaleMinLabel, 0, max_replicas).value_or(1);
}

FunctionDeployment reported_deployment(FunctionDeployment deployment) {
    deployment.labels[kFunctionNameLabel] = deployment.service;
    auto& labels = deployment.raw["labels"];
    if (!labels.is_object()) labels = nlohmann::json::object();
    labels[kFunctionNameLabel] = deployment.service;
    return deployment;
}

}  // namespace faas::gateway
