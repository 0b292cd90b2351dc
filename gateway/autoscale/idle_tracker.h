// The scale-to-zero rule: a function that opted in (com.openfaas.scale.zero) and has had no
// call for its zero-duration goes to zero replicas. Pure: time is given.
#pragma once

#include <chrono>
#include <cstdint>

#include "autoscale/scale_policy.h"

namespace faas::gateway {

/// Whether to scale the function to zero: the policy allows it, no call is in flight, and
/// the last call (or, before any call, the deployment) is at least zero_duration before `now`.
bool should_scale_to_zero(const ScalePolicy& policy,
                          std::chrono::steady_clock::time_point last_call, std::uint64_t in_flight,
                          std::chrono::steady_clock::time_point now);

}  // namespace faas::gateway
