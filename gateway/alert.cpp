// Scaling math for Alertmanager alerts.
#include "alert.h"

#include <nlohmann/json.hpp>

#include "function_types.h"
#include "settings.h"

namespace faas::gateway {
namespace {

int label_int(const std::map<std::string, std::string>& labels, const char* key, int fallback) {
    auto it = labels.find(key);
    if (it == labels.end()) return fallback;
    auto value = parse_int(it->second);
    if (!value || *value < 0 || *value > 1'000'000) return fallback;
    return static_cast<int>(*value);
}

}  // namespace

ScalingBounds scaling_bounds(const std::map<std::string, std::string>& labels) {
    ScalingBounds bounds;
    bounds.min = label_int(labels, "com.openfaas.scale.min", kDefaultMinReplicas);
    bounds.max = label_int(labels, "com.openfaas.scale.max", kDefaultMaxReplicas);
    bounds.factor = label_int(labels, "com.openfaas.scale.factor", kDefaultScalingFactor);
    if (bounds.factor > 100) bounds.factor = 100;
    if (bounds.max < bounds.min) bounds.max = bounds.min;
    return bounds;
}

int scaled_replicas(int current, bool firing, const ScalingBounds& bounds) {
    if (bounds.factor == 0 || bounds.min == bounds.max) return current;
    if (!firing) return bounds.min;
    // ceil(max * factor / 100) in integers.
    int step = (bounds.max * bounds.factor + 99) / 100;
    if (step < 1) step = 1;
    int next = current + step;
    if (next > bounds.max) next = bounds.max;
    if (next < bounds.min) next = bounds.min;
    return next;
}

std::vector<Alert> parse_alerts(const std::string& body) {
    const BadRequest bad("Unable to parse alert, bad format.");
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) throw bad;
    auto alerts = json.find("alerts");
    if (alerts == json.end() || !alerts->is_array()) throw bad;
    std::vector<Alert> out;
    for (const auto& item : *alerts) {
        if (!item.is_object()) throw bad;
        Alert alert;
        auto status = item.find("status");
        if (status == item.end() || !status->is_string()) throw bad;
        alert.firing = status->get<std::string>() == "firing";
        auto labels = item.find("labels");
        if (labels == item.end() || !labels->is_object()) throw bad;
        auto name = labels->find("function_name");
        if (name == labels->end() || !name->is_string()) throw bad;
        alert.function_name = name->get<std::string>();
        out.push_back(std::move(alert));
    }
    return out;
}

}  // namespace faas::gateway
