// Asynchronous calls end to end on the local provider: the real gateway starts the real
// nats-server and queue worker itself, a call to /async-function is stored, made by the worker
// through the gateway, and its result posted to a callback server run by the test.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;

namespace {

/// An HTTP server on 127.0.0.1 that keeps every callback it receives.
class CallbackServer {
  public:
    struct Received {
        std::string body;
        httplib::Headers headers;
    };

    CallbackServer() {
        server_.Post("/done", [this](const httplib::Request& request, httplib::Response&) {
            std::lock_guard lock(mutex_);
            received_.push_back(Received{request.body, request.headers});
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        REQUIRE(wait_until([this] { return server_.is_running(); }, 5s));
    }
    ~CallbackServer() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/done"; }
    std::vector<Received> received() {
        std::lock_guard lock(mutex_);
        return received_;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<Received> received_;
};

std::string header(const httplib::Headers& headers, const std::string& name) {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
}

}  // namespace

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
    CHECK(header(callback.headers, "X-Call-Id") == call_id);
    CHECK(header(callback.headers, "X-Function-Status") == "200");
    CHECK(header(callback.headers, "X-Function-Name") == "echo");
    CHECK_FALSE(header(callback.headers, "X-Duration-Seconds").empty());

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
