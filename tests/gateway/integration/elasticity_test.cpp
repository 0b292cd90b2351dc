// Elastic functions on the local provider, with the real gateway and real replicas: calls held
// while a function starts (scale from zero), scale to zero by label, the built-in autoscaler.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++count;
    return count;
}

void scale(GatewayFixture& gateway, const std::string& name, int replicas) {
    auto answer = gateway.client().Post("/system/scale-function/" + name,
                                        R"({"replicas":)" + std::to_string(replicas) + "}",
                                        "application/json");
    REQUIRE(answer);
    REQUIRE(answer->status == 202);
}

void scale_to_zero(GatewayFixture& gateway, const std::string& name) {
    scale(gateway, name, 0);
    REQUIRE(gateway.wait_available(name, 0));
    REQUIRE(wait_until([&] { return gateway.replica_pids().empty(); }, 15s));
}

// A replica that never becomes ready: its watchdog waits for an upstream nobody starts.
nlohmann::json never_ready(const std::string& name) {
    return {{"service", name},
            {"image", "local/" + name},
            {"envProcess", "sleep 600"},
            {"envVars", {{"mode", "http"}, {"upstream_url", "http://127.0.0.1:9"}}}};
}

}  // namespace

TEST_CASE("a call at zero replicas is held, the function started, and the call answered") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    scale_to_zero(gateway, "echo");

    auto answer = gateway.client(20s).Post("/function/echo", "wake up", "text/plain");
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->body == "wake up");
    CHECK(gateway.status("echo")["replicas"] == 1);
    CHECK(count_of(gateway.process().output(), "Scaling echo from zero to 1") == 1);
}

TEST_CASE("50 concurrent calls at zero all get 200 and cause exactly one scale request") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    scale_to_zero(gateway, "echo");

    std::atomic<int> ok{0};
    std::vector<std::string> failures(50);
    std::vector<std::thread> callers;
    for (int i = 0; i < 50; ++i)
        callers.emplace_back([&, i] {
            auto body = "call " + std::to_string(i);
            auto answer = gateway.client(20s).Post("/function/echo", body, "text/plain");
            if (answer && answer->status == 200 && answer->body == body)
                ++ok;
            else
                failures[i] =
                    answer ? std::to_string(answer->status) + " " + answer->body : "no answer";
        });
    for (auto& caller : callers) caller.join();
    for (const auto& failure : failures) CHECK_MESSAGE(failure.empty(), failure);
    CHECK(ok == 50);
    CHECK(count_of(gateway.process().output(), "Scaling echo from zero to") == 1);
    CHECK(gateway.status("echo")["replicas"] == 1);
}

TEST_CASE("a call right after a deploy, and right after a gateway restart, gets 200") {
    TempDir state;
    {
        GatewayFixture gateway({}, state.path());
        REQUIRE(gateway.deploy(
                    {{"service", "echo"}, {"image", "local/echo"}, {"envProcess", "cat"}}) == 202);
        auto answer = gateway.client(20s).Post("/function/echo", "first", "text/plain");
        REQUIRE(answer);
        CHECK(answer->status == 200);
        CHECK(answer->body == "first");
        REQUIRE(gateway.stop() == 0);
    }
    GatewayFixture restarted({}, state.path());
    auto answer = restarted.client(20s).Post("/function/echo", "again", "text/plain");
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->body == "again");
    // Its replica count was 1 all along: nothing was scaled, the call only waited.
    CHECK(count_of(restarted.process().output(), "from zero") == 0);
}

TEST_CASE("held calls are bounded: 504 past scale_from_zero_timeout, 429 past max_held_calls") {
    GatewayFixture gateway(GatewayEnv{{"scale_from_zero_timeout", "2s"}, {"max_held_calls", "2"}});
    REQUIRE(gateway.deploy(never_ready("stuck")) == 202);

    std::vector<int> statuses(3);
    std::vector<std::string> bodies(3);
    std::vector<std::thread> callers;
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
        callers.emplace_back([&, i] {
            // Staggered so the third finds two held already.
            std::this_thread::sleep_for(std::chrono::milliseconds(200 * i));
            auto answer = gateway.client(20s).Post("/function/stuck", "x", "text/plain");
            statuses[i] = answer ? answer->status : -1;
            bodies[i] = answer ? answer->body : "";
        });
    }
    for (auto& caller : callers) caller.join();
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(statuses[0] == 504);
    CHECK(statuses[1] == 504);
    CHECK(bodies[0] == "The function stuck did not become ready within 2s.\n");
    CHECK(statuses[2] == 429);
    CHECK(bodies[2].find("Too many calls are waiting for stuck") != std::string::npos);
    CHECK(took < 6s);
}

TEST_CASE("a client that leaves while its call is held is dropped from the queue") {
    GatewayFixture gateway(GatewayEnv{{"scale_from_zero_timeout", "20s"}});
    REQUIRE(gateway.deploy(never_ready("stuck")) == 202);
    // Sends the call and closes at once: raw_exchange returns after the short timeout.
    raw_exchange(gateway.port(),
                 "POST /function/stuck HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 300ms);
    CHECK(wait_until(
        [&] {
            return gateway.metrics().find(
                       R"(gateway_function_invocation_total{code="499",function_name="stuck"} 1)") !=
                   std::string::npos;
        },
        5s));
}

TEST_CASE("scale_from_zero=false answers 503 at once, as before") {
    GatewayFixture gateway(GatewayEnv{{"scale_from_zero", "false"}});
    gateway.deploy_ready("echo", "cat");
    scale_to_zero(gateway, "echo");
    auto answer = gateway.client().Post("/function/echo", "x", "text/plain");
    REQUIRE(answer);
    CHECK(answer->status == 503);
    CHECK(gateway.status("echo")["replicas"] == 0);
}

TEST_CASE("an idle function labelled com.openfaas.scale.zero goes to zero, not while a call runs") {
    TempDir scripts;
    auto slow = write_script(scripts, "slow.sh", "sleep 4\necho done\n");
    GatewayFixture gateway;
    gateway.deploy_ready(
        "slow", "sh " + slow, 1,
        {{"labels",
          {{"com.openfaas.scale.zero", "true"}, {"com.openfaas.scale.zero-duration", "2s"}}}});

    // A call of 4 s: twice the idle time, and the function stays up under it.
    std::string slow_answer;
    std::thread caller([&] {
        auto answer = gateway.client(20s).Get("/function/slow");
        slow_answer = answer ? std::to_string(answer->status) + " " + answer->body : "no answer";
    });
    caller.join();
    CHECK(slow_answer == "200 done\n");
    CHECK(gateway.process().output().find("scaled slow to 0") == std::string::npos);

    // Then idle: gone within the idle time and a few autoscaler intervals.
    CHECK(gateway.wait_available("slow", 0, 10s));
    CHECK(gateway.status("slow")["replicas"] == 0);
    CHECK(gateway.process().output().find("Autoscaler: scaled slow to 0: no call for") !=
          std::string::npos);
    // And wakes on the next call.
    auto answer = gateway.client(20s).Get("/function/slow");
    REQUIRE(answer);
    CHECK(answer->status == 200);
}

TEST_CASE("a bad autoscaling label is refused at deploy with the label's name") {
    GatewayFixture gateway;
    auto status = gateway.deploy({{"service", "echo"},
                                  {"image", "local/echo"},
                                  {"envProcess", "cat"},
                                  {"labels", {{"com.openfaas.scale.target", "lots"}}}});
    CHECK(status == 400);
    CHECK(gateway.status("echo").is_null());
}

TEST_CASE("under load the autoscaler scales up, then back to min, with no failed call") {
    TempDir scripts;
    auto work = write_script(scripts, "work.sh", "sleep 0.2\necho done\n");
    GatewayFixture gateway;
    gateway.deploy_ready("work", "sh " + work, 1,
                         {{"labels",
                           {{"com.openfaas.scale.min", "1"},
                            {"com.openfaas.scale.max", "4"},
                            {"com.openfaas.scale.target", "2"}}}});
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::atomic<bool> stop{false};
    auto caller = [&] {
        auto http = gateway.client(20s);
        while (!stop.load()) {
            auto answer = http.Get("/function/work");
            (answer && answer->status == 200 && answer->body == "done\n" ? ok : failed)++;
        }
    };
    // 8 callers, each call 0.2 s: about 8 in flight, four times what one replica is meant for.
    std::vector<std::thread> load;
    for (int i = 0; i < 8; ++i) load.emplace_back(caller);
    int most = 1;
    const auto load_until = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < load_until) {
        most = std::max(most, gateway.status("work")["replicas"].get<int>());
        std::this_thread::sleep_for(200ms);
    }
    stop = true;
    for (auto& thread : load) thread.join();
    CHECK(most >= 3);
    CHECK(failed.load() == 0);
    CHECK(ok.load() > 100);
    CHECK(gateway.metrics().find(R"(gateway_autoscaler_desired_replicas{function_name="work"})") !=
          std::string::npos);

    // Then idle but for one caller: back to min within the stable window and a few halvings,
    // and not one of its calls fails while replicas leave.
    stop = false;
    std::thread trickle([&] {
        auto http = gateway.client(20s);
        while (!stop.load()) {
            auto answer = http.Get("/function/work");
            (answer && answer->status == 200 ? ok : failed)++;
            std::this_thread::sleep_for(300ms);
        }
    });
    const bool back_to_min =
        wait_until([&] { return gateway.status("work")["replicas"] == 1; }, 150s);
    stop = true;
    trickle.join();
    CHECK(back_to_min);
    CHECK(failed.load() == 0);
    CHECK(gateway.process().output().find("Autoscaler: scaled work to 1: stable") !=
          std::string::npos);
}
