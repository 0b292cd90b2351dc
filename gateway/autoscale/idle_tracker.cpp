// The scale-to-zero rule.
#include "autoscale/idle_tracker.h"

namespace faas::gateway {

bool should_scale_to_zero(const ScalePolicy& policy,
                          std::chrono::steady_clock::time_point last_call, std::uint64_t in_flight,
                          std::chrono::steady_clock::time_point now) {
    return policy.zero && in_flight == 0 && now - last_call >= policy.zero_duration;
}

}  // namespace faas::gateway
