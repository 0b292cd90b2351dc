// The Alertmanager webhook body, and the scaling rule it drives (scaling.h; its cases stay
// here until tests/gateway/CMakeLists.txt lists a scaling_test.cpp).
#include "alert.h"

#include <doctest/doctest.h>

#include "errors.h"
#include "scaling.h"

using namespace faas::gateway;

TEST_CASE("firing adds ceil(max*factor/100) up to max, resolved returns to min") {
    ScalingBounds bounds{1, 20, 20};
    CHECK(scaled_replicas(1, true, bounds) == 5);
    CHECK(scaled_replicas(5, true, bounds) == 9);
    CHECK(scaled_replicas(17, true, bounds) == 20);
    CHECK(scaled_replicas(20, true, bounds) == 20);
    CHECK(scaled_replicas(20, false, bounds) == 1);
    CHECK(scaled_replicas(1, true, ScalingBounds{1, 5, 10}) == 2);  // ceil(0.5) = 1
    CHECK(scaled_replicas(0, true, ScalingBounds{2, 10, 50}) == 5);
}

TEST_CASE("factor 0 or min == max disables scaling") {
    CHECK(scaled_replicas(3, true, ScalingBounds{1, 20, 0}) == 3);
    CHECK(scaled_replicas(3, false, ScalingBounds{1, 20, 0}) == 3);
    CHECK(scaled_replicas(4, true, ScalingBounds{4, 4, 20}) == 4);
}

TEST_CASE("bounds come from labels with defaults and clamping") {
    auto defaults = scaling_bounds({});
    CHECK(defaults.min == 1);
    CHECK(defaults.max == 20);
    CHECK(defaults.factor == 20);
    auto custom = scaling_bounds({{"com.openfaas.scale.min", "2"},
                                  {"com.openfaas.scale.max", "8"},
                                  {"com.openfaas.scale.factor", "150"}});
    CHECK(custom.min == 2);
    CHECK(custom.max == 8);
    CHECK(custom.factor == 100);
    auto garbage =
        scaling_bounds({{"com.openfaas.scale.min", "x"}, {"com.openfaas.scale.max", "-3"}});
    CHECK(garbage.min == 1);
    CHECK(garbage.max == 20);
    CHECK(scaling_bounds({{"com.openfaas.scale.min", "9"}, {"com.openfaas.scale.max", "3"}}).max ==
          9);
}

TEST_CASE("Alertmanager webhook bodies") {
    auto alerts = parse_alerts(R"({"status":"firing","receiver":"scale-up","alerts":[
        {"status":"firing","labels":{"alertname":"APIHighInvocationRate","function_name":"echo"}},
        {"status":"resolved","labels":{"function_name":"cat"}}]})");
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].firing);
    CHECK(alerts[0].function_name == "echo");
    CHECK_FALSE(alerts[1].firing);
    CHECK_THROWS_AS(parse_alerts("nope"), BadRequest);
    CHECK_THROWS_AS(parse_alerts(R"({"alerts":[{"status":"firing"}]})"), BadRequest);
}
