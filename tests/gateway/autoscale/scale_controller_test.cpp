// The autoscaler's loop with a fake clock (step(now)) and a provider in memory: scale to zero
// by label, never while a call runs, autoscaling from the gateway's own call counts, and the
// desired-replicas metric.
#include "autoscale/scale_controller.h"

#include <doctest/doctest.h>

#include "fake_provider.h"

using namespace faas::gateway;
using faas::gateway::test::FakeProvider;
using namespace std::chrono_literals;

namespace {

struct Rig {
    FakeProvider provider;
    Metrics metrics;
    ScaleController controller{provider, metrics, nullptr, 1s};
    ScaleController::Clock::time_point now = ScaleController::Clock::now();

    /// Steps the controller once a second for `seconds`.
    void run_for(int seconds) {
        for (int i = 0; i < seconds; ++i) {
            now += 1s;
            controller.step(now);
        }
    }
    void start_calls(const std::string& function, int count) {
        for (int i = 0; i < count; ++i) metrics.invocation_started(function);
    }
    void finish_calls(const std::string& function, int count) {
        for (int i = 0; i < count; ++i) metrics.invocation_finished(function, 200, 0.1);
    }
};

const std::map<std::string, std::string> kZeroAfter5s{{"com.openfaas.scale.zero", "true"},
                                                      {"com.openfaas.scale.zero-duration", "5s"}};

}  // namespace

TEST_CASE("an idle function labelled for zero goes to zero after its zero-duration") {
    Rig rig;
    rig.provider.add("idle", 1, kZeroAfter5s);
    rig.provider.add("plain", 1);  // not labelled: left alone
    rig.run_for(4);
    CHECK(rig.provider.scales().empty());
    rig.run_for(2);
    CHECK(rig.provider.scales() == std::vector<std::pair<std::string, int>>{{"idle", 0}});
    CHECK(rig.metrics.serialize().find(
              R"(gateway_autoscaler_desired_replicas{function_name="idle"} 0)") !=
          std::string::npos);
    CHECK(rig.metrics.serialize().find(R"(function_name="plain")") == std::string::npos);
    rig.run_for(10);
    CHECK(rig.provider.scales().size() == 1);  // at zero it stays, until a call wakes it
}

TEST_CASE("a call in flight, however long, keeps a function from going to zero") {
    Rig rig;
    rig.provider.add("slow", 1, kZeroAfter5s);
    rig.run_for(1);
    rig.start_calls("slow", 1);
    rig.run_for(20);
    CHECK(rig.provider.scales().empty());
    rig.finish_calls("slow", 1);
    rig.run_for(4);
    CHECK(rig.provider.scales().empty());
    rig.run_for(2);
    CHECK(rig.provider.scales() == std::vector<std::pair<std::string, int>>{{"slow", 0}});
}

TEST_CASE("calls reset the idle time") {
    Rig rig;
    rig.provider.add("busy", 1, kZeroAfter5s);
    for (int i = 0; i < 5; ++i) {
        rig.run_for(3);
        rig.start_calls("busy", 1);
        rig.finish_calls("busy", 1);
    }
    CHECK(rig.provider.scales().empty());
}

TEST_CASE("load past twice the capacity scales up within the panic window, and back to min after") {
    Rig rig;
    rig.provider.add("api", 1,
                     {{"com.openfaas.scale.min", "1"},
                      {"com.openfaas.scale.max", "10"},
                      {"com.openfaas.scale.target", "5"}});
    rig.run_for(2);
    rig.start_calls("api", 20);  // 20 in flight over one replica of 4.5: 5 replicas' worth
    rig.run_for(6);              // within the panic window: most of the way there
    const int replicas = rig.provider.replicas("api");
    CHECK(replicas >= 4);
    CHECK(
        rig.metrics.serialize().find("gateway_autoscaler_desired_replicas{function_name=\"api\"} " +
                                     std::to_string(replicas)) != std::string::npos);
    rig.finish_calls("api", 20);
    rig.run_for(180);
    CHECK(rig.provider.replicas("api") == 1);
}

TEST_CASE("a function with min = max or no target is never autoscaled") {
    Rig rig;
    rig.provider.add("fixed", 2,
                     {{"com.openfaas.scale.min", "2"},
                      {"com.openfaas.scale.max", "2"},
                      {"com.openfaas.scale.target", "1"}});
    rig.provider.add("untargeted", 1);
    rig.start_calls("fixed", 50);
    rig.start_calls("untargeted", 50);
    rig.run_for(30);
    CHECK(rig.provider.scales().empty());
}

TEST_CASE("a provider that cannot list pauses the autoscaler without deciding anything") {
    Rig rig;
    rig.provider.add("idle", 1, kZeroAfter5s);
    rig.provider.set_unavailable(true);
    rig.run_for(10);
    CHECK(rig.provider.scales().empty());
    rig.provider.set_unavailable(false);
    rig.run_for(1);
    // Idle since it was first seen, not since the outage ended.
    CHECK(rig.provider.scales().empty());
    rig.run_for(5);
    CHECK(rig.provider.scales().size() == 1);
}
