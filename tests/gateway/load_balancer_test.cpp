// Replica choice.
#include "load_balancer.h"

#include <doctest/doctest.h>

#include <map>

using namespace faas::gateway;

TEST_CASE("round robin spreads evenly and lists every replica once for retries") {
    LoadBalancer balancer(BalancingPolicy::kRoundRobin);
    std::vector<Endpoint> endpoints{{"127.0.0.1", 1}, {"127.0.0.1", 2}, {"127.0.0.1", 3}};
    std::map<std::size_t, int> firsts;
    for (int i = 0; i < 30; ++i) {
        auto order = balancer.order("fn", endpoints);
        REQUIRE(order.size() == 3);
        std::vector<bool> seen(3);
        for (auto index : order) seen[index] = true;
        CHECK((seen[0] && seen[1] && seen[2]));
        ++firsts[order[0]];
    }
    CHECK(firsts[0] == 10);
    CHECK(firsts[1] == 10);
    CHECK(firsts[2] == 10);
    CHECK(balancer.order("fn", {}).empty());
}

TEST_CASE("least in-flight avoids the busy replica") {
    LoadBalancer balancer(BalancingPolicy::kLeastInflight);
    std::vector<Endpoint> endpoints{{"127.0.0.1", 1}, {"127.0.0.1", 2}};
    auto busy = balancer.track(endpoints[0]);
    CHECK(balancer.inflight(endpoints[0]) == 1);
    for (int i = 0; i < 5; ++i) CHECK(balancer.order("fn", endpoints)[0] == 1);
}

TEST_CASE("in-flight counts return to zero") {
    LoadBalancer balancer(BalancingPolicy::kLeastInflight);
    Endpoint endpoint{"127.0.0.1", 9};
    {
        auto a = balancer.track(endpoint);
        auto b = balancer.track(endpoint);
        CHECK(balancer.inflight(endpoint) == 2);
    }
    CHECK(balancer.inflight(endpoint) == 0);
}
