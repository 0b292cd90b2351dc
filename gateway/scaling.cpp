// Scale labels and the alert scaling rule.
#include "scaling.h"

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
    bounds.min = label_int(labels, kScaleMinLabel, kDefaultMinReplicas);
    bounds.max = label_int(labels, kScaleMaxLabel, kDefaultMaxReplicas);
    bounds.factor = label_int(labels, kScaleFactorLabel, kDefaultScalingFactor);
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

}  // namespace faas::gateway
