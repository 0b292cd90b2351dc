// The local provider under the real gateway: persistence, crash recovery, rolling updates,
// scaling to zero, graceful drain and start-up errors.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("deployments persist across a gateway restart") {
    TempDir state;
    std::string state_dir = state.path() + "/state";
    {
        GatewayFixture first(GatewayEnv{}, state_dir);
        first.deploy_ready("echo", "cat", 2, {{"envVars", {{"k", "v"}}}});
        auto http = first.client();
        REQUIRE(http.Post("/system/secrets", R"({"name":"token","value":"x"})", "application/json")
                    ->status == 201);
        CHECK(first.stop() == 0);
        CHECK(first.replica_pids().empty());
    }
    GatewayFixture second(GatewayEnv{}, state_dir);
    REQUIRE(second.wait_available("echo", 2));
    auto status = second.status("echo");
    CHECK(status["envVars"] == json({{"k", "v"}}));
    auto http = second.client();
    CHECK(http.Post("/function/echo", "back", "text/plain")->body == "back");
    CHECK(http.Get("/system/secrets")->body.find("token") != std::string::npos);
}

TEST_CASE("a replica killed with SIGKILL mid-load: the other serves, the provider restarts it") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat", 2);
    auto pids = gateway.replica_pids();
    REQUIRE(pids.size() == 2);

    std::atomic<int> ok{0}, failed{0};
    std::atomic<bool> stop{false};
    std::thread load([&] {
        auto http = gateway.client();
        for (int i = 0; i < 2000 && !stop; ++i) {
            auto res = http.Post("/function/echo", "ping", "text/plain");
            (res && res->status == 200 && res->body == "ping" ? ok : failed)++;
        }
    });
    REQUIRE(wait_until([&] { return ok.load() > 50; }));
    ::kill(pids[0], SIGKILL);
    int ok_at_kill = ok.load();
    REQUIRE(wait_until([&] { return ok.load() > ok_at_kill + 200; }));
    // Restarted: two ready replicas again, one of them a new process.
    CHECK(gateway.wait_available("echo", 2));
    stop = true;
    load.join();
    auto now = gateway.replica_pids();
    CHECK(now.size() == 2);
    CHECK(std::find(now.begin(), now.end(), pids[0]) == now.end());
    // A call in flight on the killed replica may fail; refused connections are retried.
    CHECK(failed.load() <= 2);
    CHECK(gateway.process().output().find("restarting in") != std::string::npos);
}

TEST_CASE("rolling update: no failed call, new replicas ready before old ones stop") {
    GatewayFixture gateway;
    gateway.deploy_ready("env", "env", 2, {{"envVars", {{"VERSION", "one"}}}});
    std::atomic<int> ok{0}, failed{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> saw_two{false};
    std::thread load([&] {
        auto http = gateway.client();
        for (int i = 0; i < 5000 && !stop; ++i) {
            auto res = http.Get("/function/env");
            if (res && res->status == 200) {
                ++ok;
                if (res->body.find("VERSION=two") != std::string::npos) saw_two = true;
            } else {
                ++failed;
            }
        }
    });
    REQUIRE(wait_until([&] { return ok.load() > 20; }));
    auto http = gateway.client();
    json update = {{"service", "env"},
                   {"image", "local/env:2"},
                   {"envProcess", "env"},
                   {"envVars", {{"VERSION", "two"}}},
                   {"labels", {{"com.openfaas.scale.min", "2"}}}};
    REQUIRE(http.Put("/system/functions", update.dump(), "application/json")->status == 202);
    CHECK(wait_until([&] { return saw_two.load(); }, 20s));
    CHECK(wait_until([&] { return gateway.replica_pids().size() == 2; }, 20s));
    int ok_now = ok.load();
    REQUIRE(wait_until([&] { return ok.load() > ok_now + 50; }));
    stop = true;
    load.join();
    CHECK(failed.load() == 0);
    CHECK(gateway.status("env")["availableReplicas"] == 2);
}

TEST_CASE("scale to zero and back, with scale_from_zero off") {
    // With it on (the default), the call at zero is held instead: elasticity_test.cpp.
    GatewayFixture gateway(GatewayEnv{{"scale_from_zero", "false"}});
    gateway.deploy_ready("echo", "cat", 1);
    auto http = gateway.client();
    REQUIRE(
        http.Post("/system/scale-function/echo", R"({"replicas":0})", "application/json")->status ==
        202);
    CHECK(gateway.wait_available("echo", 0));
    CHECK(wait_until([&] { return gateway.replica_pids().empty(); }, 15s));
    CHECK(http.Post("/function/echo", "x", "text/plain")->status == 503);
    REQUIRE(
        http.Post("/system/scale-function/echo", R"({"replicas":1})", "application/json")->status ==
        202);
    CHECK(gateway.wait_available("echo", 1));
    CHECK(http.Post("/function/echo", "x", "text/plain")->body == "x");
}

TEST_CASE("a replica that misses one health check stays in rotation, a hung one leaves it") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat", 1);
    auto pids = gateway.replica_pids();
    REQUIRE(pids.size() == 1);
    auto available = [&] { return gateway.status("echo")["availableReplicas"].get<int>(); };

    // Stopped for 1.5 s: at least one probe times out (1 s), fewer than three in a row.
    ::kill(pids[0], SIGSTOP);
    const auto resume_at = std::chrono::steady_clock::now() + 1500ms;
    int lowest = 1;
    while (std::chrono::steady_clock::now() < resume_at) {
        lowest = std::min(lowest, available());
        std::this_thread::sleep_for(50ms);
    }
    ::kill(pids[0], SIGCONT);
    CHECK(lowest == 1);
    auto http = gateway.client();
    CHECK(http.Post("/function/echo", "still here", "text/plain")->body == "still here");

    // Stopped until it is taken out: three failed probes, a few seconds.
    ::kill(pids[0], SIGSTOP);
    const bool evicted = wait_until([&] { return available() == 0; }, 15s);
    ::kill(pids[0], SIGCONT);
    CHECK(evicted);
    CHECK(gateway.wait_available("echo", 1));
    CHECK(http.Post("/function/echo", "back", "text/plain")->body == "back");
    CHECK(gateway.replica_pids() == pids);  // the same process: hung, not restarted
}

TEST_CASE("a replica that answers unhealthy leaves the rotation at once and comes back") {
    // A call while it is out would be held (scale_from_zero): this test wants the old 503.
    GatewayFixture gateway(GatewayEnv{{"scale_from_zero", "false"}});
    gateway.deploy_ready("echo", "cat", 1);
    auto available = [&] { return gateway.status("echo")["availableReplicas"].get<int>(); };
    // The watchdog's lock file, in the replica's own TMPDIR under the state directory.
    std::vector<std::filesystem::path> locks;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(gateway.state_dir() + "/run/echo"))
        if (entry.path().filename() == ".lock") locks.push_back(entry.path());
    REQUIRE(locks.size() == 1);

    std::filesystem::remove(locks[0]);  // /_/health now answers 503
    const auto removed_at = std::chrono::steady_clock::now();
    CHECK(wait_until([&] { return available() == 0; }, 10s));
    // An answer, not silence: one probe took it out, without waiting for three.
    CHECK(gateway.process().output().find("failed its health check") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - removed_at < 5s);
    CHECK(gateway.client().Post("/function/echo", "x", "text/plain")->status == 503);

    std::ofstream(locks[0]).put('\n');
    CHECK(wait_until([&] { return available() == 1; }, 10s));
    CHECK(gateway.client().Post("/function/echo", "x", "text/plain")->body == "x");
}

TEST_CASE("SIGTERM drains: the call in flight finishes, new calls get 503, replicas stop") {
    TempDir scripts;
    auto slow = write_script(scripts, "slow.sh", "sleep 1\necho finished\n");
    GatewayFixture gateway;
    gateway.deploy_ready("slow", "sh " + slow);
    gateway.deploy_ready("echo", "cat");
    std::optional<int> slow_status;
    std::string slow_body;
    std::thread caller([&] {
        auto http = gateway.client();
        auto res = http.Get("/function/slow");
        if (res) {
            slow_status = res->status;
            slow_body = res->body;
        }
    });
    REQUIRE(wait_until([&] {
        return gateway.process().output().find("Forking") != std::string::npos ||
               gateway.metrics().find(
                   "gateway_function_invocation_started{function_name=\"slow\"} 1") !=
                   std::string::npos;
    }));
    gateway.process().signal(SIGTERM);
    REQUIRE(wait_until(
        [&] { return gateway.process().output().find("draining") != std::string::npos; }));
    auto late = raw_exchange(
        gateway.port(), "GET /function/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2s);
    // Either answered 503 while draining, or refused once the listener closed.
    CHECK((late.empty() || late.rfind("HTTP/1.1 503", 0) == 0));
    caller.join();
    CHECK(slow_status == 200);
    CHECK(slow_body == "finished\n");
    CHECK(gateway.process().wait_exit(20s) == 0);
    CHECK(gateway.replica_pids().empty());
}

TEST_CASE("a bad setting is one clear line and exit code 2") {
    for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"port", "99999"},
             {"upstream_timeout", "soon"},
             {"provider", "nomad"},
             {"watchdog_path", "/nonexistent/fwatchdog"},
             {"state_dir", "/proc/version/state"},  // the provider cannot start there
             {"basic_auth", "true"}}) {
        CAPTURE(name);
        TempDir state;
        std::map<std::string, std::string> env{{"port", std::to_string(free_port())},
                                               {"state_dir", state.path()},
                                               {"watchdog_path", FAAS_WATCHDOG_PATH},
                                               {"secret_mount_path", state.path() + "/none"}};
        env[name] = value;
        TestProcess gateway({FAAS_GATEWAY_PATH}, env);
        CHECK(gateway.wait_exit(10s) == 2);
        auto output = gateway.output();
        CHECK(output.find(name == "basic_auth" ? "basic-auth-user" : name) != std::string::npos);
        CHECK(std::count(output.begin(), output.end(), '\n') == 1);
    }
}
