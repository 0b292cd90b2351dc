// The Swarm provider against a fake Engine API on a unix socket: what it asks Docker, and how
// it behaves when dockerd is down, slow, or comes back. The real engine is in tests/e2e.
#include "provider/swarm/swarm_provider.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_engine.h"
#include "support/wait.h"

using namespace faas::gateway;
using namespace std::chrono_literals;
using namespace faas::test;
using nlohmann::json;

namespace {

std::string percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

// Function "echo" (service s1) while its tasks start: no tasks yet (phase 0); two starting
// (listed out of order), one starting without an address yet, and two Swarm no longer wants
// running (phase 1); then the first of them, 10.0.1.4, running (phase 2).
std::pair<int, std::string> starting_function(const FakeRequest& request, int phase) {
    if (request.target.find("/tasks?") == std::string::npos) return one_function(request);
    if (phase == 0) return {200, "[]"};
    std::string tasks = R"([
        {"ServiceID":"s1","DesiredState":"running","Status":{"State":"starting"},
         "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.4/24"]}]},
        {"ServiceID":"s1","DesiredState":"running","Status":{"State":"starting"},
         "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.3/24"]}]},
        {"ServiceID":"s1","DesiredState":"running","Status":{"State":"starting"}},
        {"ServiceID":"s1","DesiredState":"shutdown","Status":{"State":"starting"},
         "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.5/24"]}]},
        {"ServiceID":"s1","DesiredState":"shutdown","Status":{"State":"running"},
         "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.6/24"]}]}])";
    if (phase == 2) {
        const std::string starting = R"("State":"starting")";
        tasks.replace(tasks.find(starting), starting.size(), R"("State":"running")");
    }
    return {200, tasks};
}

std::vector<std::string> hosts_of(const std::vector<Endpoint>& endpoints) {
    std::vector<std::string> out;
    for (const auto& endpoint : endpoints) out.push_back(endpoint.host);
    return out;
}

}  // namespace

TEST_CASE("list and get map services and healthy running tasks") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    auto functions = provider.list();
    REQUIRE(functions.size() == 1);
    CHECK(functions[0].deployment.service == "echo");
    CHECK(functions[0].deployment.env_process == "cat");
    CHECK(functions[0].replicas == 2);
    CHECK(functions[0].available_replicas == 2);  // the "starting" task is not healthy yet
    CHECK(functions[0].created_at == "2026-01-01T00:00:00Z");
    CHECK(provider.get("echo").has_value());
    CHECK_FALSE(provider.get("nope").has_value());
    bool versioned = true;
    std::optional<json> service_filters;
    for (const auto& request : engine.requests()) {
        versioned = versioned && request.target.rfind("/v1.41/", 0) == 0;
        auto at = request.target.find("/services?filters=");
        if (at != std::string::npos)
            service_filters = json::parse(percent_decode(request.target.substr(at + 18)));
    }
    CHECK(versioned);
    REQUIRE(service_filters);
    // Docker wants every filter as a list of values.
    CHECK(*service_filters == json({{"label", json::array({"function=true"})}}));
    CHECK(provider.info().provider == "faas-swarm");
}

TEST_CASE("resolve serves cached task IPs and keeps them while dockerd is down") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 2; }, 5s));
    auto ready = provider.resolve("echo").ready;
    CHECK(ready[0].host == "10.0.1.2");
    CHECK(ready[1].host == "10.0.1.3");
    CHECK(ready[0].port == 8080);
    CHECK_FALSE(provider.resolve("unknown").exists);

    engine.stop();
    // Admin calls fail fast with a clear error; the hot path answers from the cache, at once.
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(provider.list(), DockerUnavailable);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    for (int i = 0; i < 20; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto resolution = provider.resolve("echo");
        CHECK(std::chrono::steady_clock::now() - t0 < 50ms);
        CHECK(resolution.ready.size() == 2);
        std::this_thread::sleep_for(20ms);  // spans several failed refreshes
    }

    engine.start();
    REQUIRE(faas::test::wait_until([&] { return provider.list().size() == 1; }, 5s));
}

TEST_CASE("a replica that a status read reports available is routed at once") {
    std::atomic<bool> third_ready{false};
    FakeEngine engine([&](const FakeRequest& request) {
        auto answer = one_function(request);
        if (third_ready && request.target.find("/tasks?") != std::string::npos) {
            const std::string starting = R"("State":"starting")";
            answer.second.replace(answer.second.find(starting), starting.size(),
                                  R"("State":"running")");
        }
        return answer;
    });
    auto options = options_for(engine.path());
    options.refresh_interval = 1h;  // after the first refresh, only status reads update routes
    options.min_refresh_gap = 1h;
    SwarmProvider provider(options);
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 2; }, 5s));
    third_ready = true;
    auto status = provider.get("echo");
    REQUIRE(status);
    CHECK(status->available_replicas == 3);
    CHECK(provider.resolve("echo").ready.size() == 3);
}

TEST_CASE("a task not yet past its first health check resolves as starting until it runs") {
    std::atomic<int> phase{1};
    FakeEngine engine(
        [&](const FakeRequest& request) { return starting_function(request, phase); });
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(
        faas::test::wait_until([&] { return provider.resolve("echo").starting.size() == 2; }, 5s));
    auto resolution = provider.resolve("echo");
    CHECK(resolution.exists);
    CHECK(resolution.ready.empty());
    // Sorted as ready ones are; none without an address or no longer wanted running.
    CHECK(hosts_of(resolution.starting) == std::vector<std::string>{"10.0.1.3", "10.0.1.4"});
    CHECK(resolution.starting[0].port == 8080);

    phase = 2;  // no ready task: resolve() itself asks for the refresh that finds it running
    REQUIRE(faas::test::wait_until([&] { return !provider.resolve("echo").ready.empty(); }, 5s));
    resolution = provider.resolve("echo");
    CHECK(hosts_of(resolution.ready) == std::vector<std::string>{"10.0.1.4"});
    CHECK(resolution.starting.empty());  // only reported while no replica is ready
}

TEST_CASE("a status read takes a function's starting tasks too") {
    std::atomic<int> phase{0};
    FakeEngine engine(
        [&](const FakeRequest& request) { return starting_function(request, phase); });
    auto options = options_for(engine.path());
    options.refresh_interval = 1h;  // after the first refresh, only status reads update routes
    options.min_refresh_gap = 1h;
    SwarmProvider provider(options);
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").exists; }, 5s));
    CHECK(provider.resolve("echo").starting.empty());

    phase = 1;
    auto status = provider.get("echo");
    REQUIRE(status);
    CHECK(status->available_replicas == 0);
    auto resolution = provider.resolve("echo");
    CHECK(resolution.ready.empty());
    CHECK(hosts_of(resolution.starting) == std::vector<std::string>{"10.0.1.3", "10.0.1.4"});

    phase = 2;
    status = provider.get("echo");
    REQUIRE(status);
    CHECK(status->available_replicas == 1);
    resolution = provider.resolve("echo");
    CHECK(hosts_of(resolution.ready) == std::vector<std::string>{"10.0.1.4"});
    CHECK(resolution.starting.empty());  // only reported while no replica is ready
}

TEST_CASE("a slow engine makes admin calls fail within the deadline") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 2; }, 5s));
    engine.delay_ms = 3000;
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(provider.list(), DockerUnavailable);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(provider.resolve("echo").ready.size() == 2);
    engine.delay_ms = 0;
}

TEST_CASE("deploy posts a spec on the labelled network with secret IDs") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    provider.deploy(parse_deployment(
        R"({"service":"fresh","image":"faas/catservice","secrets":["api-key"]})", "openfaas-fn"));
    std::optional<json> spec;
    for (const auto& request : engine.requests())
        if (request.method == "POST" && request.target == "/v1.41/services/create")
            spec = json::parse(request.body);
    REQUIRE(spec);
    CHECK((*spec)["Name"] == "fresh");
    CHECK((*spec)["TaskTemplate"]["Networks"][0]["Target"] == "fn");
    CHECK((*spec)["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] == "sec1");
    // Known at once, though not ready: 503 rather than 404 while its tasks start.
    auto resolution = provider.resolve("fresh");
    CHECK(resolution.exists);

    CHECK_THROWS_AS(
        provider.deploy(parse_deployment(R"({"service":"echo","image":"x"})", "openfaas-fn")),
        AlreadyExists);
    CHECK_THROWS_AS(provider.deploy(parse_deployment(
                        R"({"service":"other","image":"x","secrets":["missing"]})", "openfaas-fn")),
                    NotFound);
    // "gateway" is the stack gateway's DNS alias on the functions network.
    CHECK_THROWS_AS(
        provider.deploy(parse_deployment(R"({"service":"gateway","image":"x"})", "openfaas-fn")),
        AlreadyExists);
    CHECK_THROWS_AS(provider.scale("nope", 1), NotFound);
    CHECK_THROWS_AS(provider.remove("nope"), NotFound);
}

TEST_CASE("a missing socket is a clear unavailable error and resolve never blocks") {
    SwarmProvider provider(options_for("/nonexistent/docker.sock"));
    try {
        provider.list();
        FAIL("list() should throw");
    } catch (const DockerUnavailable& e) {
        CHECK(std::string(e.what()).find("/nonexistent/docker.sock") != std::string::npos);
    }
    CHECK_FALSE(provider.resolve("echo").exists);
}

namespace {

// Function "echo" wanting 2 replicas: a task running on node n1 (ready), one "running" on n2,
// which Swarm sees down, and tasks the engine rejected: their newest error is the reason.
std::pair<int, std::string> node_down_and_rejected(const FakeRequest& request) {
    if (request.target == "/v1.41/nodes")
        return {200, R"([{"ID":"n1","Status":{"State":"ready"}},
                        {"ID":"n2","Status":{"State":"down"}}])"};
    if (request.target.find("/tasks?") != std::string::npos) {
        const bool all = request.target.find("desired-state") == std::string::npos;
        std::string tasks = R"([
            {"ServiceID":"s1","NodeID":"n1","DesiredState":"running",
             "Status":{"State":"running","Timestamp":"2026-12-03T10:00:00.1Z"},
             "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.3/24"]}]},
            {"ServiceID":"s1","NodeID":"n2","DesiredState":"running",
             "Status":{"State":"running","Timestamp":"2026-12-03T10:00:00.2Z"},
             "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.9/24"]}]})";
        if (all)
            tasks += R"(,
            {"ServiceID":"s1","NodeID":"n1","DesiredState":"shutdown",
             "Status":{"State":"rejected","Timestamp":"2026-12-03T10:00:05.5Z",
                       "Err":"No such image: reg:5000/echo:2\nsecond line"}},
            {"ServiceID":"s1","NodeID":"n1","DesiredState":"shutdown",
             "Status":{"State":"rejected","Timestamp":"2026-12-03T10:00:03.5Z",
                       "Err":"an older error"}})";
        return {200, tasks + "]"};
    }
    return one_function(request);
}

}  // namespace

TEST_CASE("a task on a node Swarm sees down is neither available nor routed") {
    FakeEngine engine(node_down_and_rejected);
    SwarmProvider provider(options_for(engine.path()));
    auto record = provider.get("echo");
    REQUIRE(record);
    CHECK(record->replicas == 2);
    CHECK(record->available_replicas == 1);
    auto resolution = provider.resolve("echo");
    REQUIRE(resolution.ready.size() == 1);
    CHECK(resolution.ready[0].host == "10.0.1.3");
}

TEST_CASE("a function short of replicas says why in one line: its newest task's error") {
    FakeEngine engine(node_down_and_rejected);
    SwarmProvider provider(options_for(engine.path()));
    auto record = provider.get("echo");
    REQUIRE(record);
    CHECK(record->reason == "rejected: No such image: reg:5000/echo:2 second line");
    CHECK(status_json(*record, "fn", 0)["reason"] == record->reason);

    // All replicas available: no reason, no extra read of the engine.
    FakeEngine healthy(one_function);
    SwarmProvider fine(options_for(healthy.path()));
    CHECK(fine.get("echo")->reason.empty());
    CHECK_FALSE(status_json(*fine.get("echo"), "fn", 0).contains("reason"));
}
