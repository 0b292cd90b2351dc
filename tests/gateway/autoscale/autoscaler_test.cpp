// The autoscaler's decisions, as a table of load histories and the replicas they should lead
// to, run on a fake clock; then the reason lines and the edges.
#include "autoscale/autoscaler.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

using Labels = std::map<std::string, std::string>;

const LoadWindow::Clock::time_point kStart = LoadWindow::Clock::time_point{} + 1h;

LoadWindow::Clock::time_point at(int seconds) {
    return kStart + std::chrono::seconds(seconds);
}

// From `from_second` on, the load is `level`: calls in flight, or with type rps, calls
// completed each second.
struct Step {
    int from_second;
    double level;
};

struct Expect {
    int at_second;
    int replicas;
};

struct Case {
    const char* name;
    Labels labels;
    int replicas;  // at the start
    std::vector<Step> load;
    std::vector<Expect> expect;
};

// Target 10 per replica at the default proportion 0.9: 9 per replica.
Labels target_10(Labels more = {}) {
    more.emplace(kScaleTargetLabel, "10");
    return more;
}

const Case kCases[] = {
    {"steady load at target stays", target_10(), 4, {{0, 36}}, {{10, 4}, {60, 4}, {180, 4}}},
    // A jump to 2x moves the stable average first, which raises the bar for panic; 4x panics.
    {"load jumps 4x: panic scales up within 6 s",
     target_10(),
     4,
     {{0, 36}, {90, 144}},
     {{88, 4}, {90, 5}, {94, 13}, {96, 16}, {200, 16}}},
    {"load drops after a panic: no scale-down until 60 s after it, then halving to min",
     target_10(),
     4,
     {{0, 36}, {90, 144}, {100, 0}},
     {{96, 16}, {152, 16}, {154, 8}, {156, 4}, {158, 2}, {160, 1}, {240, 1}}},
    {"no load: halving down to min over successive decisions",
     target_10({{kScaleMinLabel, "2"}}),
     16,
     {{0, 0}},
     {{58, 16}, {60, 8}, {62, 4}, {64, 2}, {120, 2}}},
    {"fresh start with little data does not scale down",
     target_10(),
     4,
     {{0, 9}},
     {{10, 4}, {58, 4}, {60, 2}, {62, 1}, {120, 1}}},
    {"fresh start with little data still scales up", target_10(), 1, {{0, 30}}, {{0, 4}, {120, 4}}},
    {"rps: 20 rps at 4.5 per replica, then 2 rps",
     {{kScaleTypeLabel, "rps"}, {kScaleTargetLabel, "5"}},
     1,
     {{0, 20}, {120, 2}},
     {{0, 1}, {2, 5}, {118, 5}, {240, 1}}},
    {"min equal to max is left alone",
     target_10({{kScaleMinLabel, "3"}, {kScaleMaxLabel, "3"}}),
     3,
     {{0, 500}},
     {{0, 3}, {120, 3}}},
    {"no target is left alone", {{kScaleMaxLabel, "10"}}, 2, {{0, 500}}, {{0, 2}, {120, 2}}},
    {"max bound", target_10({{kScaleMaxLabel, "5"}}), 1, {{0, 500}}, {{0, 5}, {120, 5}}},
    {"min bound", target_10({{kScaleMinLabel, "3"}}), 6, {{0, 0}}, {{58, 6}, {60, 3}, {120, 3}}},
    {"min 0 still keeps one replica",
     target_10({{kScaleMinLabel, "0"}}),
     2,
     {{0, 0}},
     {{60, 1}, {180, 1}}},
    {"replicas above max are brought down at once",
     target_10(),
     30,
     {{0, 0}},
     {{0, 20}, {58, 20}, {60, 10}, {62, 5}, {64, 3}, {66, 2}, {68, 1}}},
};

double level_at(const std::vector<Step>& load, int second) {
    double level = 0;
    for (const auto& step : load)
        if (step.from_second <= second) level = step.level;
    return level;
}

// Each second: records a sample at the load's level, and every other second applies the
// autoscaler's decision; checks the replicas at the expected seconds.
void run(const Case& c) {
    INFO(c.name);
    auto policy = scale_policy(c.labels);
    bool rps = policy.type == ScaleType::kRps;
    LoadWindow load;
    Autoscaler autoscaler;
    int replicas = c.replicas;
    std::uint64_t completed = 0;
    auto expect = c.expect.begin();
    for (int second = 0; expect != c.expect.end(); ++second) {
        double level = level_at(c.load, second);
        load.record(at(second), rps ? 0 : level, completed);
        if (rps) completed += static_cast<std::uint64_t>(level);
        if (second % 2 == 0) {
            if (auto decision = autoscaler.decide(policy, replicas, load, at(second))) {
                CHECK(decision->desired != replicas);
                CHECK_FALSE(decision->reason.empty());
                replicas = decision->desired;
            }
        }
        if (second == expect->at_second) {
            INFO("at ", second, " s");
            CHECK(replicas == expect->replicas);
            ++expect;
        }
    }
}

// A decision from `seconds` of constant samples.
std::optional<ScaleDecision> decide_after(const ScalePolicy& policy, int replicas, int seconds,
                                          double in_flight, double rps) {
    LoadWindow load;
    for (int s = 0; s <= seconds; ++s)
        load.record(at(s), in_flight, static_cast<std::uint64_t>(rps * s + 1e-9));
    return Autoscaler().decide(policy, replicas, load, at(seconds));
}

}  // namespace

TEST_CASE("load histories lead to the expected replicas") {
    for (const auto& c : kCases) run(c);
}

TEST_CASE("a panic decision says so, with the numbers") {
    auto decision = decide_after(scale_policy(target_10()), 2, 6, 38, 0);
    REQUIRE(decision.has_value());
    CHECK(decision->desired == 5);
    CHECK(decision->panic);
    CHECK(decision->reason ==
          "panic: 6 s average 38.0 in flight is 2.1x the capacity of 2 replicas (9.0 each)");
}

TEST_CASE("a stable decision says so, with the numbers") {
    auto policy = scale_policy({{kScaleTypeLabel, "rps"}, {kScaleTargetLabel, "5"}});
    auto decision = decide_after(policy, 4, 60, 0, 3.1);
    REQUIRE(decision.has_value());
    CHECK(decision->desired == 2);
    CHECK_FALSE(decision->panic);
    CHECK(decision->reason ==
          "stable: 60 s average 3.1 rps over 4 replicas, target 4.5 per replica needs 1; at "
          "most halving, to 2");
}

TEST_CASE("nothing to decide without replicas or without samples") {
    auto policy = scale_policy(target_10());
    CHECK_FALSE(decide_after(policy, 0, 60, 100, 0).has_value());
    CHECK_FALSE(Autoscaler().decide(policy, 3, LoadWindow(), at(0)).has_value());
    // rps needs two samples.
    auto rps = scale_policy({{kScaleTypeLabel, "rps"}, {kScaleTargetLabel, "5"}});
    CHECK_FALSE(decide_after(rps, 1, 0, 0, 100).has_value());
    CHECK(decide_after(rps, 1, 1, 0, 100).has_value());
}

TEST_CASE("a bounded decision names the bound") {
    auto decision = decide_after(scale_policy(target_10({{kScaleMaxLabel, "5"}})), 1, 0, 500, 0);
    REQUIRE(decision.has_value());
    CHECK(decision->desired == 5);
    CHECK(decision->reason ==
          "panic: latest sample 500.0 in flight is 55.6x the capacity of 1 replica (9.0 each); "
          "max 5");
}
