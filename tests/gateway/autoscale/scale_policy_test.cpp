// The autoscaling labels: defaults, lenient reading, and the strict check's messages.
#include "autoscale/scale_policy.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using namespace std::chrono_literals;

TEST_CASE("no scale labels give the defaults and no autoscaling") {
    auto policy = scale_policy({});
    CHECK(policy.min == 1);
    CHECK(policy.max == 20);
    CHECK(policy.type == ScaleType::kCapacity);
    CHECK_FALSE(policy.target.has_value());
    CHECK(policy.target_proportion == doctest::Approx(0.9));
    CHECK_FALSE(policy.zero);
    CHECK(policy.zero_duration == 15min);
    CHECK(policy.zero_mode == ZeroMode::kRemove);
    CHECK_FALSE(autoscaled(policy));
    CHECK_FALSE(scale_policy_error({}).has_value());
}

TEST_CASE("every scale label is read") {
    std::map<std::string, std::string> labels{{kScaleMinLabel, "0"},
                                              {kScaleMaxLabel, "8"},
                                              {kScaleTypeLabel, "rps"},
                                              {kScaleTargetLabel, "50"},
                                              {kScaleTargetProportionLabel, "0.7"},
                                              {kScaleZeroLabel, "true"},
                                              {kScaleZeroDurationLabel, "1h30m"}};
    auto policy = scale_policy(labels);
    CHECK(policy.min == 0);
    CHECK(policy.max == 8);
    CHECK(policy.type == ScaleType::kRps);
    REQUIRE(policy.target.has_value());
    CHECK(*policy.target == doctest::Approx(50));
    CHECK(policy.target_proportion == doctest::Approx(0.7));
    CHECK(policy.zero);
    CHECK(policy.zero_duration == 90min);
    CHECK(autoscaled(policy));
    CHECK_FALSE(scale_policy_error(labels).has_value());
    CHECK(scale_policy({{kScaleTypeLabel, "capacity"}}).type == ScaleType::kCapacity);
    CHECK(scale_policy({{kScaleTargetLabel, " 2.5 "}}).target == 2.5);
    CHECK(scale_policy({{kScaleZeroDurationLabel, "90"}}).zero_duration == 90s);
    CHECK(scale_policy({{kScaleTargetProportionLabel, "1"}}).target_proportion == 1.0);
}

TEST_CASE("autoscaled needs a target and room between min and max") {
    CHECK(autoscaled(scale_policy({{kScaleTargetLabel, "10"}})));
    CHECK_FALSE(autoscaled(
        scale_policy({{kScaleTargetLabel, "10"}, {kScaleMinLabel, "3"}, {kScaleMaxLabel, "3"}})));
    CHECK_FALSE(autoscaled(scale_policy({{kScaleMinLabel, "2"}, {kScaleMaxLabel, "6"}})));
}

TEST_CASE("bad values are read as the defaults") {
    auto policy = scale_policy({{kScaleMinLabel, "-1"},
                                {kScaleMaxLabel, "lots"},
                                {kScaleTypeLabel, "cpu"},
                                {kScaleTargetLabel, "abc"},
                                {kScaleTargetProportionLabel, "1.5"},
                                {kScaleZeroLabel, "maybe"},
                                {kScaleZeroDurationLabel, "soon"}});
    CHECK(policy.min == 1);
    CHECK(policy.max == 20);
    CHECK(policy.type == ScaleType::kCapacity);
    CHECK_FALSE(policy.target.has_value());
    CHECK(policy.target_proportion == doctest::Approx(0.9));
    CHECK_FALSE(policy.zero);
    CHECK(policy.zero_duration == 15min);
    CHECK_FALSE(scale_policy({{kScaleTargetLabel, "0"}}).target.has_value());
    CHECK_FALSE(scale_policy({{kScaleTargetLabel, "inf"}}).target.has_value());
    CHECK_FALSE(scale_policy({{kScaleTargetLabel, "5rps"}}).target.has_value());
    CHECK(scale_policy({{kScaleTargetProportionLabel, "0"}}).target_proportion ==
          doctest::Approx(0.9));
    CHECK(scale_policy({{kScaleZeroDurationLabel, "0s"}}).zero_duration == 15min);
    CHECK(scale_policy({{kScaleZeroModeLabel, "freeze"}}).zero_mode == ZeroMode::kRemove);
    CHECK(scale_policy({{kScaleZeroModeLabel, " pause "}}).zero_mode == ZeroMode::kPause);
    CHECK(scale_policy({{kScaleZeroModeLabel, "remove"}}).zero_mode == ZeroMode::kRemove);
    // As scaling_bounds: a max below min is raised to min.
    CHECK(scale_policy({{kScaleMinLabel, "5"}, {kScaleMaxLabel, "2"}}).max == 5);
}

TEST_CASE("the strict check names the first bad label and its value") {
    using Labels = std::map<std::string, std::string>;
    auto error = [](const Labels& labels) { return scale_policy_error(labels).value_or(""); };
    CHECK(error({{kScaleTargetLabel, "abc"}}) ==
          R"(com.openfaas.scale.target must be a positive number, not "abc")");
    CHECK(error({{kScaleTargetLabel, "-4"}}) ==
          R"(com.openfaas.scale.target must be a positive number, not "-4")");
    CHECK(error({{kScaleTypeLabel, "cpu"}}) ==
          R"(com.openfaas.scale.type must be "capacity" or "rps", not "cpu")");
    CHECK(
        error({{kScaleTargetProportionLabel, "1.5"}}) ==
        R"(com.openfaas.scale.target-proportion must be a number above 0 and at most 1, not "1.5")");
    CHECK(error({{kScaleZeroLabel, "maybe"}}) ==
          R"(com.openfaas.scale.zero must be true or false, not "maybe")");
    CHECK(
        error({{kScaleZeroDurationLabel, "soon"}}) ==
        R"(com.openfaas.scale.zero-duration must be a positive duration such as 15m or 90s, not "soon")");
    CHECK(error({{kScaleZeroModeLabel, "freeze"}}) ==
          R"(com.openfaas.scale.zero-mode must be "remove" or "pause", not "freeze")");
    CHECK_FALSE(scale_policy_error({{kScaleZeroModeLabel, "pause"}}).has_value());
    CHECK(error({{kScaleMinLabel, "x"}}) ==
          R"(com.openfaas.scale.min must be a whole number from 0 to 1000000, not "x")");
    CHECK(error({{kScaleMinLabel, "5"}, {kScaleMaxLabel, "2"}}) ==
          "com.openfaas.scale.min must not be above com.openfaas.scale.max (5 > 2)");
    // One line, however the value is written.
    CHECK(error({{kScaleTargetLabel, "1\n2"}}) ==
          R"(com.openfaas.scale.target must be a positive number, not "1?2")");
    CHECK(error({{kScaleTargetLabel, std::string(100, 'x')}}) ==
          "com.openfaas.scale.target must be a positive number, not \"" + std::string(64, 'x') +
              "...\"");
}
