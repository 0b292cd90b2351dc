// Alertmanager webhook → replica counts: OpenFaaS's scaling rule, as pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace faas::gateway {

/// Bounds from the function's labels com.openfaas.scale.{min,max,factor}.
struct ScalingBounds {
    int min = 1;
    int max = 20;
    int factor = 20;  ///< Percent of max added per firing alert; 0 disables scaling.
};

inline constexpr int kDefaultMinReplicas = 1;
inline constexpr int kDefaultMaxReplicas = 20;
inline constexpr int kDefaultScalingFactor = 20;

/// Reads the bounds from labels; missing or unparsable values take the defaults, factor is
/// clamped to 0..100, and max is raised to min when smaller.
ScalingBounds scaling_bounds(const std::map<std::string, std::string>& labels);

/// The replica count after an alert: firing adds ceil(max*factor/100) up to max; resolved goes
/// back to min. A factor of 0, or min == max, leaves `current` alone.
int scaled_replicas(int current, bool firing, const ScalingBounds& bounds);

/// One alert of the webhook body.
struct Alert {
    bool firing = false;
    std::string function_name;  ///< labels.function_name, as sent.
};

/// Parses the webhook body; throws BadRequest ("Unable to parse alert, bad format.").
std::vector<Alert> parse_alerts(const std::string& body);

}  // namespace faas::gateway
