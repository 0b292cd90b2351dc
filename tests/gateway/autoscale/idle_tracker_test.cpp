// The scale-to-zero rule.
#include "autoscale/idle_tracker.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

const std::chrono::steady_clock::time_point kLastCall =
    std::chrono::steady_clock::time_point{} + 1h;

}  // namespace

TEST_CASE("an opted-in function idle for its zero-duration goes to zero") {
    auto policy = scale_policy({{kScaleZeroLabel, "true"}, {kScaleZeroDurationLabel, "90s"}});
    CHECK_FALSE(should_scale_to_zero(policy, kLastCall, 0, kLastCall + 89s));
    CHECK(should_scale_to_zero(policy, kLastCall, 0, kLastCall + 90s));
    CHECK(should_scale_to_zero(policy, kLastCall, 0, kLastCall + 1h));
}

TEST_CASE("the default zero-duration is 15 minutes") {
    auto policy = scale_policy({{kScaleZeroLabel, "true"}});
    CHECK_FALSE(should_scale_to_zero(policy, kLastCall, 0, kLastCall + 14min + 59s));
    CHECK(should_scale_to_zero(policy, kLastCall, 0, kLastCall + 15min));
}

TEST_CASE("no scale to zero with calls in flight, or without opting in") {
    auto policy = scale_policy({{kScaleZeroLabel, "true"}, {kScaleZeroDurationLabel, "1m"}});
    CHECK_FALSE(should_scale_to_zero(policy, kLastCall, 1, kLastCall + 1h));
    CHECK_FALSE(should_scale_to_zero(scale_policy({}), kLastCall, 0, kLastCall + 1h));
    CHECK_FALSE(should_scale_to_zero(scale_policy({{kScaleZeroLabel, "false"}}), kLastCall, 0,
                                     kLastCall + 1h));
    // A clock that went back (last call after now) is not idle time.
    CHECK_FALSE(should_scale_to_zero(policy, kLastCall, 0, kLastCall - 1h));
}
