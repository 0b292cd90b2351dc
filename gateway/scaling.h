// The scale labels of a deployment (com.openfaas.scale.{min,max,factor}) and OpenFaaS's rule
// for how an alert changes a replica count, as pure functions.
#pragma once

#include <map>
#include <string>

namespace faas::gateway {

inline constexpr const char* kScaleMinLabel = "com.openfaas.scale.min";
inline constexpr const char* kScaleMaxLabel = "com.openfaas.scale.max";
inline constexpr const char* kScaleFactorLabel = "com.openfaas.scale.factor";

inline constexpr int kDefaultMinReplicas = 1;
inline constexpr int kDefaultMaxReplicas = 20;
inline constexpr int kDefaultScalingFactor = 20;

/// Bounds from the function's scale labels.
struct ScalingBounds {
    int min = kDefaultMinReplicas;
    int max = kDefaultMaxReplicas;
    int factor = kDefaultScalingFactor;  ///< Percent of max added per firing alert; 0 disables.
};

/// Reads the bounds from labels; missing or unparsable values take the defaults, factor is
/// clamped to 0..100, and max is raised to min when smaller. Lenient on purpose: a new
/// deployment's labels are checked by check_deployment (provider/deployment_rules.h), and this
/// must still give an answer for deployments stored before that check existed.
ScalingBounds scaling_bounds(const std::map<std::string, std::string>& labels);

/// The replica count after an alert: firing adds ceil(max*factor/100) up to max; resolved goes
/// back to min. A factor of 0, or min == max, leaves `current` alone.
int scaled_replicas(int current, bool firing, const ScalingBounds& bounds);

}  // namespace faas::gateway
