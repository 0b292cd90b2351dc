// The Waker: one scale request however many calls wait, the caps, its own probes of starting
// replicas, and what it says when waiting is pointless.
#include "autoscale/waker.h"

#include <doctest/doctest.h>

#include <atomic>

#include "fake_provider.h"
#include "support/wait.h"

using namespace faas::gateway;
using faas::gateway::test::FakeProvider;
using namespace std::chrono_literals;

namespace {

WakerOptions fast(std::uint64_t max_calls = 100, std::uint64_t max_bytes = 1 << 20) {
    return WakerOptions{std::chrono::milliseconds(5), max_calls, max_bytes};
}

bool has_endpoints(const Waker& waker, const std::string& function) {
    return !waker.status(function).endpoints.empty();
}

}  // namespace

TEST_CASE("many held calls of a function at zero make one scale request, to its minimum") {
    FakeProvider provider;
    provider.add("echo", 0, {{"com.openfaas.scale.min", "2"}});
    Waker waker(provider, fast(), [](const Endpoint&) { return false; });
    std::vector<Waker::Ticket> tickets;
    for (int i = 0; i < 50; ++i) {
        auto ticket = waker.admit("echo", 10);
        REQUIRE(ticket);
        tickets.push_back(std::move(*ticket));
    }
    REQUIRE(faas::test::wait_until([&] { return provider.replicas("echo") == 2; }, 2s));
    // Several rechecks later, still the one request: the count is no longer zero.
    std::this_thread::sleep_for(1200ms);
    CHECK(provider.scales() == std::vector<std::pair<std::string, int>>{{"echo", 2}});
    CHECK(waker.scale_requests() == 1);
    CHECK(waker.holding("echo"));
    tickets.clear();
    CHECK_FALSE(waker.holding("echo"));
}

TEST_CASE("a function with replicas wanted but none ready is waited for, not scaled") {
    FakeProvider provider;
    provider.add("echo", 1);
    Waker waker(provider, fast(), [](const Endpoint&) { return false; });
    auto ticket = waker.admit("echo", 0);
    REQUIRE(ticket);
    std::this_thread::sleep_for(100ms);
    CHECK(provider.scales().empty());
    CHECK_FALSE(has_endpoints(waker, "echo"));
    provider.set_resolution("echo", {Endpoint{"10.0.0.5", 8080}});
    REQUIRE(faas::test::wait_until([&] { return has_endpoints(waker, "echo"); }, 2s));
    CHECK(waker.status("echo").endpoints[0].host == "10.0.0.5");
}

TEST_CASE("a starting replica that answers its probe is used before the provider knows it") {
    FakeProvider provider;
    provider.add("echo", 0);
    provider.set_resolution("echo", {}, {Endpoint{"10.0.0.7", 8080}, Endpoint{"10.0.0.8", 8080}});
    std::atomic<bool> healthy{false};
    std::atomic<int> probes{0};
    Waker waker(provider, fast(), [&](const Endpoint& endpoint) {
        ++probes;
        return healthy.load() && endpoint.host == "10.0.0.8";
    });
    auto ticket = waker.admit("echo", 0);
    REQUIRE(faas::test::wait_until([&] { return probes.load() >= 4; }, 2s));
    CHECK_FALSE(has_endpoints(waker, "echo"));
    healthy = true;
    REQUIRE(faas::test::wait_until([&] { return has_endpoints(waker, "echo"); }, 2s));
    auto status = waker.status("echo");
    REQUIRE(status.endpoints.size() == 1);
    CHECK(status.endpoints[0].host == "10.0.0.8");
}

TEST_CASE("admission stops at max_held_calls per function and max_held_bytes in all") {
    FakeProvider provider;
    provider.add("a", 1);
    provider.add("b", 1);
    Waker waker(provider, fast(2, 100), [](const Endpoint&) { return false; });
    auto a1 = waker.admit("a", 10);
    auto a2 = waker.admit("a", 10);
    CHECK(a1);
    CHECK(a2);
    CHECK_FALSE(waker.admit("a", 0));  // a third call of a
    auto b1 = waker.admit("b", 70);
    CHECK(b1);
    CHECK_FALSE(waker.admit("b", 11));  // 10 + 10 + 70 + 11 > 100
    a1->release();
    CHECK(waker.admit("b", 11));  // room again
}

TEST_CASE("a function removed while calls wait ends them with 404 at once") {
    FakeProvider provider;
    Waker waker(provider, fast(), [](const Endpoint&) { return false; });
    auto ticket = waker.admit("gone", 0);
    REQUIRE(faas::test::wait_until([&] { return waker.status("gone").error.has_value(); }, 2s));
    CHECK(waker.status("gone").error_status == 404);
    CHECK(*waker.status("gone").error == "Cannot find service: gone.");
}

TEST_CASE("a provider that is away is asked again, and its last error is kept for the message") {
    FakeProvider provider;
    provider.add("echo", 0);
    provider.set_unavailable(true);
    Waker waker(provider, fast(), [](const Endpoint&) { return false; });
    auto ticket = waker.admit("echo", 0);
    REQUIRE(faas::test::wait_until(
        [&] { return waker.status("echo").last_problem == "backend away"; }, 2s));
    CHECK_FALSE(waker.status("echo").error);
    provider.set_unavailable(false);
    REQUIRE(faas::test::wait_until([&] { return provider.replicas("echo") == 1; }, 3s));
}

TEST_CASE("a scale-down that lands after the scale-up is undone while calls still wait") {
    FakeProvider provider;
    provider.add("echo", 0);
    Waker waker(provider, fast(), [](const Endpoint&) { return false; });
    auto ticket = waker.admit("echo", 0);
    REQUIRE(faas::test::wait_until([&] { return provider.replicas("echo") == 1; }, 2s));
    provider.scale("echo", 0);  // the idle scaler, or an operator, a moment later
    REQUIRE(faas::test::wait_until([&] { return provider.replicas("echo") == 1; }, 3s));
    CHECK(waker.scale_requests() == 2);
}
