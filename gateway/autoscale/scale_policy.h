// A function's autoscaling policy, read from its labels: the replica bounds of scaling.h plus
// what to measure (com.openfaas.scale.type), the load each replica should carry
// (com.openfaas.scale.target, .target-proportion) and whether an idle function goes to zero
// (com.openfaas.scale.zero, .zero-duration) and how: its replicas removed, or paused in place
// (com.openfaas.scale.zero-mode).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "scaling.h"

namespace faas::gateway {

inline constexpr const char* kScaleTypeLabel = "com.openfaas.scale.type";
inline constexpr const char* kScaleTargetLabel = "com.openfaas.scale.target";
inline constexpr const char* kScaleTargetProportionLabel = "com.openfaas.scale.target-proportion";
inline constexpr const char* kScaleZeroLabel = "com.openfaas.scale.zero";
inline constexpr const char* kScaleZeroDurationLabel = "com.openfaas.scale.zero-duration";
inline constexpr const char* kScaleZeroModeLabel = "com.openfaas.scale.zero-mode";

/// What a replica's load is measured in.
enum class ScaleType {
    kCapacity,  ///< Calls in flight ("capacity").
    kRps,       ///< Completed requests per second ("rps").
};

/// What scaling a function to zero does with its replicas.
enum class ZeroMode {
    kRemove,  ///< Stopped and removed ("remove"): no memory kept, a new replica on wake.
    kPause,   ///< Frozen in place ("pause", Swarm): memory kept, woken by unpausing.
};

inline constexpr double kDefaultTargetProportion = 0.9;
inline constexpr std::chrono::minutes kDefaultZeroDuration{15};

struct ScalePolicy {
    int min = kDefaultMinReplicas;  ///< May be 0; the autoscaler itself never goes below 1.
    int max = kDefaultMaxReplicas;  ///< Never below min.
    ScaleType type = ScaleType::kCapacity;
    std::optional<double> target;  ///< Load per replica; unset means no autoscaling.
    double target_proportion = kDefaultTargetProportion;  ///< Share of target to plan for, (0,1].
    bool zero = false;  ///< Whether an idle function is scaled to zero.
    std::chrono::nanoseconds zero_duration = kDefaultZeroDuration;  ///< Idle time before zero.
    ZeroMode zero_mode = ZeroMode::kRemove;
};

/// Reads the policy from labels. Lenient, like scaling_bounds: a missing or bad value takes
/// its default (a bad target leaves the function without autoscaling), so a policy exists even
/// for deployments stored before scale_policy_error was checked.
ScalePolicy scale_policy(const std::map<std::string, std::string>& labels);

/// The first bad scale label as one line naming it, e.g.
/// `com.openfaas.scale.target must be a positive number, not "abc"`; nullopt when all are fine.
/// For refusing a deployment (400) before it is stored.
std::optional<std::string> scale_policy_error(const std::map<std::string, std::string>& labels);

/// Whether the autoscaler has anything to do: a target is set and min != max.
bool autoscaled(const ScalePolicy& policy);

}  // namespace faas::gateway
