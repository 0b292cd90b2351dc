// Scale to zero by pausing (com.openfaas.scale.zero-mode=pause) against a fake Engine API: what
// the Swarm provider asks Docker when it pauses and wakes a function, what it reports and
// routes meanwhile, and when it removes the replicas instead. The real engine is in
// tests/e2e/elasticity_e2e_test.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fake_engine.h"
#include "provider/swarm/swarm_provider.h"
#include "support/wait.h"

using namespace faas::gateway;
using namespace std::chrono_literals;
using namespace faas::test;
using nlohmann::json;

namespace {

// Function "sleepy" (service s1), two running tasks (containers c1, c2) on the functions
// network; the engine keeps the service's labels and replicas as the provider updates them
// and which containers are paused.
class PausableSwarm {
  public:
    explicit PausableSwarm(std::string zero_mode, bool second_task_elsewhere = false)
        : zero_mode_(std::move(zero_mode)), elsewhere_(second_task_elsewhere) {}

    std::pair<int, std::string> answer(const FakeRequest& request) {
        std::lock_guard lock(mutex_);
        const auto& target = request.target;
        if (target.find("/services?") != std::string::npos)
            return {200, json::array({service()}).dump()};
        if (target == "/v1.41/services/s1/update?version=7") {
            auto spec = json::parse(request.body);
            labels_ = spec["Labels"];
            replicas_ = spec["Mode"]["Replicated"]["Replicas"];
            return {200, "{}"};
        }
        if (target.find("/tasks?") != std::string::npos) return {200, tasks().dump()};
        if (target.find("/containers/json?") != std::string::npos) {
            bool only_paused = target.find("paused") != std::string::npos;
            json list = json::array();
            for (std::string id : {"c1", "c2"}) {
                if (id == "c2" && elsewhere_) continue;
                if (!only_paused || paused_.count(id) != 0) list.push_back({{"Id", id}});
            }
            return {200, list.dump()};
        }
        for (std::string id : {"c1", "c2"}) {
            if (target == "/v1.41/containers/" + id + "/pause") {
                paused_.insert(id);
                return {204, ""};
            }
            if (target == "/v1.41/containers/" + id + "/unpause") {
                paused_.erase(id);
                return {204, ""};
            }
        }
        if (target.find("/networks") != std::string::npos)
            return {200, R"([{"Id":"fn","Name":"func_functions","Driver":"overlay"}])"};
        return {404, R"({"message":"no such thing"})"};
    }

    std::set<std::string> paused() {
        std::lock_guard lock(mutex_);
        return paused_;
    }
    int replicas() {
        std::lock_guard lock(mutex_);
        return replicas_;
    }
    bool labelled_paused() {
        std::lock_guard lock(mutex_);
        return labels_.value("com.faas.paused", "") == "true";
    }

  private:
    json service() const {
        return {{"ID", "s1"},
                {"Version", {{"Index", 7}}},
                {"Spec",
                 {{"Name", "sleepy"},
                  {"Labels", labels_},
                  {"TaskTemplate", {{"ContainerSpec", {{"Image", "faas/catservice:latest"}}}}},
                  {"Mode", {{"Replicated", {{"Replicas", replicas_}}}}}}}};
    }
    json tasks() const {
        json list = json::array();
        for (int i = 1; i <= replicas_; ++i)
            list.push_back({{"ServiceID", "s1"},
                            {"DesiredState", "running"},
                            {"Status",
                             {{"State", "running"},
                              {"ContainerStatus", {{"ContainerID", "c" + std::to_string(i)}}}}},
                            {"NetworksAttachments",
                             {{{"Network", {{"ID", "fn"}}},
                               {"Addresses", {"10.0.1." + std::to_string(i + 1) + "/24"}}}}}});
        return list;
    }

    const std::string zero_mode_;
    const bool elsewhere_;
    std::mutex mutex_;
    json labels_ = {{"function", "true"},
                    {"com.openfaas.function", "sleepy"},
                    {"com.openfaas.scale.zero-mode", zero_mode_}};
    int replicas_ = 2;
    std::set<std::string> paused_;
};

std::vector<std::string> hosts_of(const std::vector<Endpoint>& endpoints) {
    std::vector<std::string> out;
    for (const auto& endpoint : endpoints) out.push_back(endpoint.host);
    return out;
}

}  // namespace

TEST_CASE("scaling a pause-mode function to zero freezes its tasks in place and hides them") {
    PausableSwarm swarm("pause");
    FakeEngine engine([&](const FakeRequest& request) { return swarm.answer(request); });
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(wait_until([&] { return provider.resolve("sleepy").ready.size() == 2; }, 5s));

    provider.scale("sleepy", 0);
    CHECK(swarm.paused() == std::set<std::string>{"c1", "c2"});
    CHECK(swarm.labelled_paused());
    CHECK(swarm.replicas() == 2);  // Swarm keeps the tasks it would otherwise replace
    auto resolution = provider.resolve("sleepy");
    CHECK(resolution.exists);
    CHECK(resolution.ready.empty());
    CHECK(resolution.starting.empty());  // nothing to probe: a frozen replica cannot answer
    auto record = provider.get("sleepy");
    REQUIRE(record);
    CHECK(record->replicas == 0);
    CHECK(record->available_replicas == 0);
    CHECK(record->deployment.labels.count("com.faas.paused") == 0);
    // Still hidden after refreshes, as after a gateway restart.
    provider.refresh_now();
    CHECK(provider.resolve("sleepy").ready.empty());
    CHECK(provider.list().at(0).replicas == 0);
    provider.scale("sleepy", 0);  // already there: nothing more asked
    CHECK(swarm.paused().size() == 2);
}

TEST_CASE("scaling a paused function up thaws its tasks and offers them to probe at once") {
    PausableSwarm swarm("pause");
    FakeEngine engine([&](const FakeRequest& request) { return swarm.answer(request); });
    auto options = options_for(engine.path());
    options.refresh_interval = 1h;  // only what scale() itself does updates the routes
    options.min_refresh_gap = 1h;
    SwarmProvider provider(options);
    REQUIRE(wait_until([&] { return provider.resolve("sleepy").ready.size() == 2; }, 5s));
    provider.scale("sleepy", 0);
    REQUIRE(swarm.paused().size() == 2);

    provider.scale("sleepy", 1);
    CHECK(swarm.paused().empty());
    CHECK_FALSE(swarm.labelled_paused());
    CHECK(swarm.replicas() == 1);
    auto resolution = provider.resolve("sleepy");
    CHECK(resolution.ready.empty());
    CHECK(hosts_of(resolution.starting) == std::vector<std::string>{"10.0.1.2", "10.0.1.3"});
    provider.refresh_now();
    CHECK(hosts_of(provider.resolve("sleepy").ready) == std::vector<std::string>{"10.0.1.2"});
    CHECK(provider.get("sleepy")->replicas == 1);
}

TEST_CASE("a function in remove mode, or with a task on another node, is scaled to zero") {
    for (bool elsewhere : {false, true}) {
        CAPTURE(elsewhere);
        PausableSwarm swarm(elsewhere ? "pause" : "remove", elsewhere);
        FakeEngine engine([&](const FakeRequest& request) { return swarm.answer(request); });
        SwarmProvider provider(options_for(engine.path()));
        REQUIRE(wait_until([&] { return provider.resolve("sleepy").ready.size() == 2; }, 5s));
        provider.scale("sleepy", 0);
        CHECK(swarm.paused().empty());
        CHECK_FALSE(swarm.labelled_paused());
        CHECK(swarm.replicas() == 0);
    }
}
