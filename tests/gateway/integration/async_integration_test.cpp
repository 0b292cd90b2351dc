// Asynchronous calls end to end on the local provider: the real gateway starts the real
// nats-server and queue worker itself, a call to /async-function is stored, made by the worker
// through the gateway, and its result posted to a callback server run by the test. Also: NATS
// killed with calls queued, and a NATS the test runs (nats_url) going down.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"
#include "nats_server.h"
#include "support/callback_server.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;

TEST_CASE("an asynchronous call is stored, made by the queue worker and its result called back") {
    CallbackServer callbacks;
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client(20s);
    auto queued = http.Post("/async-function/echo", {{"X-Callback-Url", callbacks.url()}},
                            "hello later", "text/plain");
    REQUIRE(queued);
    CHECK(queued->status == 202);
    const std::string call_id = queued->get_header_value("X-Call-Id");
    REQUIRE_FALSE(call_id.empty());

    REQUIRE_MESSAGE(wait_until([&] { return !callbacks.received().empty(); }, 30s),
                    gateway.process().output());
    auto callback = callbacks.received().front();
    CHECK(callback.body == "hello later");
    CHECK(callback.header("X-Call-Id") == call_id);
    CHECK(callback.header("X-Function-Status") == "200");
    CHECK(callback.header("X-Function-Name") == "echo");
    CHECK_FALSE(callback.header("X-Duration-Seconds").empty());

    REQUIRE(wait_until(
        [&] {
            auto record = http.Get("/system/calls/" + call_id);
            return record && record->status == 200 &&
                   nlohmann::json::parse(record->body)["status"] == "succeeded";
        },
        10s));
    auto record = nlohmann::json::parse(http.Get("/system/calls/" + call_id)->body);
    CHECK(record["attempts"] == 1);
    CHECK(record["statusCode"] == 200);
    CHECK(record["function"] == "echo");
    // The queue's gauges are on the gateway's /metrics (read every 5 s).
    CHECK(wait_until(
        [&] {
            std::this_thread::sleep_for(100ms);
            return gateway.metrics().find(R"(gateway_queue_depth{queue="faas-request"} 0)") !=
                   std::string::npos;
        },
        15s));
    // The gateway started both, once, and says so.
    CHECK(gateway.process().output().find("Starting nats-server on nats://127.0.0.1:") !=
          std::string::npos);
}

TEST_CASE("bad asynchronous calls are refused before anything is stored") {
    GatewayFixture gateway(GatewayEnv{{"max_async_bytes", "1k"}});
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client(20s);
    auto status = [&](const std::string& path, const httplib::Headers& headers,
                      const std::string& body = "x") {
        auto answer = http.Post(path, headers, body, "text/plain");
        return answer ? answer->status : -1;
    };
    CHECK(status("/async-function/nope", {}) == 404);
    CHECK(status("/async-function/Bad_Name", {}) == 400);
    CHECK(status("/async-function/echo", {{"X-Callback-Url", "ftp://127.0.0.1/x"}}) == 400);
    CHECK(status("/async-function/echo", {{"X-Callback-Url", "/relative"}}) == 400);
    CHECK(status("/async-function/echo", {{"X-Call-Id", "has space"}}) == 400);
    CHECK(status("/async-function/echo", {}, std::string(2048, 'x')) == 413);
    CHECK(http.Get("/system/calls?status=bogus")->status == 400);
    CHECK(http.Get("/system/calls/no-such-call")->status == 404);
    CHECK(http.Delete("/system/calls/no-such-call")->status == 404);
    auto listed = http.Get("/system/calls");
    REQUIRE(listed);
    CHECK(listed->status == 200);
    CHECK(listed->body == "[]");
}

TEST_CASE("the same call id sent twice is stored and made once") {
    CallbackServer callbacks;
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client(20s);
    httplib::Headers headers{{"X-Callback-Url", callbacks.url()}, {"X-Call-Id", "retry-me-1"}};
    for (int i = 0; i < 2; ++i) {
        auto queued = http.Post("/async-function/echo", headers, "once", "text/plain");
        REQUIRE(queued);
        CHECK(queued->status == 202);
        CHECK(queued->get_header_value("X-Call-Id") == "retry-me-1");
    }
    REQUIRE(wait_until([&] { return !callbacks.received().empty(); }, 30s));
    std::this_thread::sleep_for(2s);  // a second call would have come by now
    CHECK(callbacks.received().size() == 1);
}

namespace {

/// The pid of the nats-server the gateway started with its store under `state_dir`, or 0.
pid_t local_nats_server(const std::string& state_dir) {
    const std::string command = "pgrep -f -- '-sd " + state_dir + "/nats$'";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return 0;
    long pid = 0;
    if (std::fscanf(pipe, "%ld", &pid) != 1) pid = 0;
    ::pclose(pipe);
    return static_cast<pid_t>(pid);
}

/// The call's record status, or "" while the record cannot be read (NATS away).
std::string call_status(httplib::Client& http, const std::string& call_id) {
    auto record = http.Get("/system/calls/" + call_id);
    if (!record || record->status != 200) return "";
    return nlohmann::json::parse(record->body).value("status", "");
}

}  // namespace

TEST_CASE("nats-server killed with calls queued: every call is made once it is back") {
    CallbackServer callbacks;
    // A short ack_wait (the queue worker inherits the gateway's environment) so that the calls
    // in flight when NATS died are delivered again within seconds.
    GatewayFixture gateway(GatewayEnv{{"ack_wait", "3s"}});
    TempDir scripts;
    gateway.deploy_ready("slow", write_script(scripts, "slow.sh", "sleep 0.2\ncat\n"));
    auto http = gateway.client(20s);
    constexpr int kCalls = 30;
    std::vector<std::string> ids;
    for (int i = 0; i < kCalls; ++i) {
        auto queued = http.Post("/async-function/slow", {{"X-Callback-Url", callbacks.url()}},
                                "call " + std::to_string(i), "text/plain");
        REQUIRE(queued);
        REQUIRE(queued->status == 202);
        ids.push_back(queued->get_header_value("X-Call-Id"));
    }
    // Some calls made, most still queued: then NATS dies without a chance to tidy up.
    REQUIRE_MESSAGE(wait_until([&] { return !callbacks.received().empty(); }, 30s),
                    gateway.process().output());
    const pid_t nats = local_nats_server(gateway.state_dir());
    REQUIRE(nats > 0);
    const auto made_before = callbacks.received().size();
    CHECK(made_before < static_cast<std::size_t>(kCalls));
    REQUIRE(::kill(nats, SIGKILL) == 0);

    // The gateway starts it again on the same store; every call ends succeeded.
    std::string unfinished;
    bool all_done = wait_until(
        [&] {
            std::this_thread::sleep_for(250ms);
            unfinished.clear();
            for (const auto& id : ids)
                if (call_status(http, id) != "succeeded") unfinished += id + " ";
            return unfinished.empty();
        },
        60s);
    CHECK_MESSAGE(all_done, "not succeeded: " << unfinished << "\n" << gateway.process().output());
    CHECK(local_nats_server(gateway.state_dir()) != nats);
    // At least once: every call called back (a call in flight when NATS died may be twice).
    REQUIRE(wait_until([&] { return callbacks.received().size() >= kCalls; }, 20s));
    std::set<std::string> called_back;
    for (const auto& callback : callbacks.received())
        called_back.insert(callback.header("X-Call-Id"));
    for (const auto& id : ids) CHECK_MESSAGE(called_back.count(id) == 1, id);
    MESSAGE(made_before << " of " << kCalls << " calls made before nats-server was killed, "
                        << callbacks.received().size() << " callbacks in all");
}

TEST_CASE("NATS down: 503 saying so, nothing accepted, and 202 again once it is back") {
    TempDir store;
    NatsServer nats(store.path() + "/nats");
    GatewayFixture gateway(GatewayEnv{{"nats_url", nats.url()}});
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client(20s);
    auto queued = http.Post("/async-function/echo", "before", "text/plain");
    REQUIRE(queued);
    CHECK(queued->status == 202);
    const std::string before = queued->get_header_value("X-Call-Id");

    nats.stop();
    auto refused =
        http.Post("/async-function/echo", {{"X-Call-Id", "while-down-1"}}, "lost?", "text/plain");
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->body.find("queue") != std::string::npos);
    CHECK(http.Get("/system/calls/" + before)->status == 503);

    nats.start();
    REQUIRE(wait_until(
        [&] {
            std::this_thread::sleep_for(200ms);
            auto again = http.Post("/async-function/echo", "after", "text/plain");
            return again && again->status == 202;
        },
        20s));
    // The refused call was never stored; the one before was.
    REQUIRE(wait_until([&] { return http.Get("/system/calls/" + before)->status == 200; }, 10s));
    CHECK(http.Get("/system/calls/while-down-1")->status == 404);
}

TEST_CASE("a slow function on a named queue does not delay calls on the default queue") {
    CallbackServer callbacks;
    GatewayFixture gateway;
    TempDir scripts;
    gateway.deploy_ready("slow", write_script(scripts, "slow.sh", "sleep 4\ncat\n"), 1,
                         {{"annotations", {{"com.openfaas.queue", "slow"}}}});
    gateway.deploy_ready("fast", "cat");
    auto http = gateway.client(20s);
    auto queue_call = [&](const std::string& function, const std::string& body) {
        auto queued = http.Post("/async-function/" + function,
                                {{"X-Callback-Url", callbacks.url()}}, body, "text/plain");
        REQUIRE(queued);
        REQUIRE(queued->status == 202);
        return queued->get_header_value("X-Call-Id");
    };
    // More slow calls than a worker takes at once (max_inflight 8): its queue is full.
    std::vector<std::string> slow;
    for (int i = 0; i < 12; ++i) slow.push_back(queue_call("slow", "slow " + std::to_string(i)));
    const auto fast_queued = std::chrono::steady_clock::now();
    const std::string fast = queue_call("fast", "fast");
    auto called_back = [&](const std::string& id) {
        for (const auto& callback : callbacks.received())
            if (callback.header("X-Call-Id") == id) return true;
        return false;
    };
    REQUIRE_MESSAGE(wait_until([&] { return called_back(fast); }, 10s), gateway.process().output());
    const auto fast_took = std::chrono::steady_clock::now() - fast_queued;
    CHECK(fast_took < 3s);  // a slow call alone takes 4 s
    // The slow queue has a worker of its own, which makes its calls too.
    CHECK(wait_until([&] { return called_back(slow.front()); }, 20s));
    CHECK(gateway.process().output().find("Starting a queue worker for the queue slow") !=
          std::string::npos);
    MESSAGE("the default queue's call was called back after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(fast_took).count()
            << " ms, with 12 calls of 4 s on the queue slow");
}

namespace {

/// The record of `call_id` once GET /system/calls/<id> has one (null JSON after `timeout`).
nlohmann::json recorded(httplib::Client& http, const std::string& call_id,
                        std::chrono::milliseconds timeout = 10s) {
    nlohmann::json record;
    wait_until(
        [&] {
            auto answer = http.Get("/system/calls/" + call_id);
            if (!answer || answer->status != 200) return false;
            record = nlohmann::json::parse(answer->body);
            return true;
        },
        timeout);
    return record;
}

/// The sum of a counter's series whose line starts with `series` on the gateway's /metrics.
double counter(GatewayFixture& gateway, const std::string& series) {
    double total = 0;
    const std::string text = gateway.metrics();
    for (std::size_t at = text.find(series); at != std::string::npos;
         at = text.find(series, at + 1)) {
        if (at > 0 && text[at - 1] != '\n') continue;
        total += std::stod(text.substr(text.find(' ', at) + 1));
    }
    return total;
}

}  // namespace

TEST_CASE("record_calls=all: synchronous calls are recorded apart from asynchronous ones") {
    CallbackServer callbacks;
    GatewayFixture gateway(GatewayEnv{{"record_calls", "all"}});
    TempDir scripts;
    // Shows whether the queue worker's marker reached the function (it must not).
    gateway.deploy_ready("echo",
                         write_script(scripts, "echo.sh",
                                      "printf '%s %s' \"${Http_X_Faas_Queued_Call:-absent}\" "
                                      "\"${Http_X_Other:-absent}\"\n"));
    gateway.deploy_ready("broken", write_script(scripts, "broken.sh", "exit 3\n"));
    auto http = gateway.client(20s);

    auto ok = http.Post("/function/echo", {{"X-Call-Id", "sync-ok-1"}, {"X-Other", "yes"}}, "",
                        "text/plain");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == "absent yes");
    auto record = recorded(http, "sync-ok-1");
    REQUIRE_MESSAGE(!record.is_null(), gateway.process().output());
    CHECK(record["sync"] == true);
    CHECK(record["status"] == "succeeded");
    CHECK(record["statusCode"] == 200);
    CHECK(record["attempts"] == 1);
    CHECK(record["function"] == "echo");
    CHECK(record["finishedAt"].is_string());

    auto failed = http.Post("/function/broken", {{"X-Call-Id", "sync-bad-1"}}, "", "text/plain");
    REQUIRE(failed);
    CHECK(failed->status == 500);
    record = recorded(http, "sync-bad-1");
    REQUIRE_FALSE(record.is_null());
    CHECK(record["status"] == "failed");
    CHECK(record["statusCode"] == 500);
    CHECK(http.Delete("/system/calls/sync-bad-1")->status == 409);

    // A call a queue worker makes is part of its asynchronous call: not recorded on its own,
    // and the marker is not passed on.
    auto marked = http.Post("/function/echo",
                            {{"X-Call-Id", "worker-made-1"}, {"X-Faas-Queued-Call", "true"}}, "",
                            "text/plain");
    REQUIRE(marked);
    CHECK(marked->body == "absent absent");

    // A client's X-Call-Id naming an asynchronous call cannot overwrite its record.
    auto queued = http.Post("/async-function/echo",
                            {{"X-Call-Id", "async-1"}, {"X-Callback-Url", callbacks.url()}}, "",
                            "text/plain");
    REQUIRE(queued);
    CHECK(queued->status == 202);
    REQUIRE(wait_until([&] { return !callbacks.received().empty(); }, 30s));
    CHECK(callbacks.received().front().body == "absent absent");
    REQUIRE(http.Post("/function/echo", {{"X-Call-Id", "async-1"}}, "", "text/plain"));
    REQUIRE(http.Post("/function/echo", {{"X-Call-Id", "sync-last-1"}}, "", "text/plain"));
    // Records are stored in the order the calls finished: once the last is there, so is
    // every one before it.
    REQUIRE_FALSE(recorded(http, "sync-last-1").is_null());
    CHECK(http.Get("/system/calls/worker-made-1")->status == 404);
    record = recorded(http, "async-1");
    CHECK(record["sync"] == false);
    CHECK(record["queue"] == "faas-request");

    // The list has both kinds, newest first; the asynchronous call's own made through the
    // gateway by the worker is not there twice.
    auto listed = http.Get("/system/calls?function=echo");
    REQUIRE(listed);
    auto calls = nlohmann::json::parse(listed->body);
    std::multiset<std::string> ids;
    for (const auto& call : calls) ids.insert(call["callId"].get<std::string>());
    CHECK(ids.count("sync-ok-1") == 1);
    CHECK(ids.count("sync-last-1") == 1);
    CHECK(ids.count("async-1") == 2);  // the async call and the client's sync call of that id
    CHECK(ids.count("worker-made-1") == 0);
    // sync-ok-1, sync-bad-1, the client's async-1 and sync-last-1.
    CHECK(
        wait_until([&] { return counter(gateway, "gateway_call_records_stored_total") == 4; }, 5s));
    CHECK(counter(gateway, "gateway_call_records_dropped_total") == 0);
}

TEST_CASE(
    "record_calls=all with NATS down: calls still answer at once, records are dropped and "
    "counted") {
    TempDir store;
    NatsServer nats(store.path() + "/nats");
    GatewayFixture gateway(GatewayEnv{{"nats_url", nats.url()}, {"record_calls", "all"}});
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client(20s);
    REQUIRE(http.Post("/function/echo", {{"X-Call-Id", "up-1"}}, "x", "text/plain"));
    REQUIRE_FALSE(recorded(http, "up-1").is_null());

    nats.stop();
    for (int i = 0; i < 20; ++i) {
        auto answer = http.Post("/function/echo", "still here", "text/plain");
        REQUIRE(answer);
        CHECK(answer->status == 200);
        // The call does not wait for the recorder: far below NATS's 5 s publish timeout.
        CHECK(std::stod(answer->get_header_value("X-Duration-Seconds")) < 2.5);
    }
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                std::this_thread::sleep_for(100ms);
                return counter(gateway,
                               R"(gateway_call_records_dropped_total{reason="unavailable"})") >= 20;
            },
            15s),
        gateway.metrics());

    nats.start();
    REQUIRE(wait_until(
        [&] {
            std::this_thread::sleep_for(200ms);
            auto again = http.Post("/function/echo", {{"X-Call-Id", "back-1"}}, "x", "text/plain");
            return again && again->status == 200 && http.Get("/system/calls/back-1")->status == 200;
        },
        20s));
}
