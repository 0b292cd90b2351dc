// Calling functions through the real gateway and real fwatchdog replicas.
#include <doctest/doctest.h>

#include <regex>

#include "integration/gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;

namespace {
std::string raw_get(int port, const std::string& target, const std::string& extra_headers = "") {
    return raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                  extra_headers + "\r\n");
}
int status_of(const std::string& response) {
    if (response.size() < 12) return -1;
    return std::stoi(response.substr(9, 3));
}
}  // namespace

TEST_CASE(
    "method, path suffix, query, headers and body reach the function, call headers come back") {
    GatewayFixture gateway;
    gateway.deploy_ready("env", "env");
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client();

    auto res = http.Get("/function/env/some/path?x=1&y=two",
                        {{"X-Custom", "v1"}, {"X-Call-Id", "my-call"}});
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("Http_Path=/some/path") != std::string::npos);
    CHECK(res->body.find("Http_Query=x=1&y=two") != std::string::npos);
    CHECK(res->body.find("Http_X_Custom=v1") != std::string::npos);
    CHECK(res->body.find("Http_Method=GET") != std::string::npos);
    CHECK(res->body.find("Http_X_Call_Id=my-call") != std::string::npos);
    CHECK(res->get_header_value("X-Call-Id") == "my-call");
    CHECK_FALSE(res->get_header_value("X-Start-Time").empty());
    CHECK_FALSE(res->get_header_value("X-Duration-Seconds").empty());

    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
        CAPTURE(method);
        httplib::Request req;
        req.method = method;
        req.path = "/function/echo";
        req.body = std::string("payload-") + method;
        req.set_header("Content-Type", "text/plain");
        auto r = http.send(req);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == std::string("payload-") + method);
        // A new call id when the client sent none.
        CHECK(std::regex_match(
            r->get_header_value("X-Call-Id"),
            std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    }
    auto dotted = http.Post("/function/echo.openfaas-fn", "ns", "text/plain");
    REQUIRE(dotted);
    CHECK(dotted->body == "ns");
    auto other_ns = http.Post("/function/echo.elsewhere", "ns", "text/plain");
    REQUIRE(other_ns);
    CHECK(other_ns->status == 404);
}

TEST_CASE("X-Function and Alexa bodies route only to listed functions") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client();
    auto res = http.Post("/", {{"X-Function", "echo"}}, "via header", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "via header");

    std::string alexa = R"({"request":{"intent":{"name":"echo"}}})";
    res = http.Post("/", alexa, "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == alexa);

    for (const char* host : {"169.254.169.254", "localhost", "gateway", "127.0.0.1:8080"}) {
        CAPTURE(host);
        auto r = http.Post("/", {{"X-Function", host}}, "x", "text/plain");
        REQUIRE(r);
        CHECK((r->status == 404 || r->status == 400));
    }
    res = http.Post("/", "{}", "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
}

TEST_CASE("invalid and unknown names are 404, as in OpenFaaS, adding no metric series") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    for (const char* target :
         {"/function/..", "/function/%2e%2e/x", "/function/A", "/function/a:9999",
          "/function/a@evil", "/function/a%20b", "/function/a%2Fb", "/function/-a", "/function/a-",
          "/function/a..b", "/function/caf%C3%A9"}) {
        CAPTURE(target);
        CHECK(status_of(raw_get(gateway.port(), target)) == 404);
    }
    CHECK(status_of(raw_get(gateway.port(), "/function/" + std::string(64, 'a'))) == 404);
    auto header =
        raw_exchange(gateway.port(),
                     "POST / HTTP/1.1\r\nHost: x\r\nX-Function: ../etc\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    CHECK(status_of(header) == 404);

    auto before = gateway.metrics();
    auto http = gateway.client();
    for (int i = 0; i < 300; ++i) {
        auto r = http.Get(("/function/nope-" + std::to_string(i)).c_str());
        REQUIRE(r);
        CHECK(r->status == 404);
    }
    auto after = gateway.metrics();
    CHECK(after.find("nope-") == std::string::npos);
    CHECK(after.find("function_name=\"A\"") == std::string::npos);
    // No function series was added: only the gateway's own bounded route counters changed.
    auto function_series = [](const std::string& text) {
        std::size_t count = 0;
        for (auto at = text.find("function_name="); at != std::string::npos;
             at = text.find("function_name=", at + 1))
            ++count;
        return count;
    };
    CHECK(function_series(after) == function_series(before));
}

TEST_CASE(
    "status mapping: 503 with no replica, 504 past upstream_timeout, 502 on upstream failure") {
    TempDir scripts;
    auto slow = write_script(scripts, "slow.sh", "sleep 3\necho done\n");
    GatewayFixture gateway(GatewayEnv{
        {"upstream_timeout", "1s"}, {"max_response_bytes", "1024"}, {"scale_from_zero", "false"}});
    gateway.deploy_ready("slow", "sh " + slow);
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client();

    auto started = std::chrono::steady_clock::now();
    auto timed_out = http.Get("/function/slow");
    REQUIRE(timed_out);
    CHECK(timed_out->status == 504);
    CHECK(std::chrono::steady_clock::now() - started < 2500ms);

    auto too_big = http.Post("/function/echo", std::string(4096, 'x'), "text/plain");
    REQUIRE(too_big);
    CHECK(too_big->status == 502);

    auto scale = http.Post("/system/scale-function/echo", R"({"serviceName":"echo","replicas":0})",
                           "application/json");
    REQUIRE(scale);
    CHECK(scale->status == 202);
    REQUIRE(gateway.wait_available("echo", 0));
    auto none = http.Post("/function/echo", "x", "text/plain");
    REQUIRE(none);
    CHECK(none->status == 503);

    auto metrics = gateway.metrics();
    CHECK(metrics.find(R"(gateway_function_invocation_total{code="504",function_name="slow"} 1)") !=
          std::string::npos);
    CHECK(metrics.find(R"(gateway_function_invocation_total{code="503",function_name="echo"} 1)") !=
          std::string::npos);
    CHECK(metrics.find(R"(gateway_function_invocation_total{code="502",function_name="echo"} 1)") !=
          std::string::npos);
}

TEST_CASE("request bodies over max_request_bytes are refused, chunked or not") {
    GatewayFixture gateway(GatewayEnv{{"max_request_bytes", "1k"}});
    gateway.deploy_ready("echo", "cat");
    auto with_length = raw_exchange(
        gateway.port(), "POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
                            std::string(4096, 'x'));
    CHECK(status_of(with_length) == 413);
    std::string chunked =
        "POST /function/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    CHECK(status_of(raw_exchange(gateway.port(), chunked)) == 413);
    auto ambiguous = raw_exchange(gateway.port(),
                                  "POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    CHECK(status_of(ambiguous) == 400);
    auto http = gateway.client();
    auto small = http.Post("/function/echo", "fits", "text/plain");
    REQUIRE(small);
    CHECK(small->body == "fits");
}

TEST_CASE("metrics count invocations per code and feed invocationCount") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client();
    for (int i = 0; i < 5; ++i) REQUIRE(http.Post("/function/echo", "x", "text/plain"));
    auto metrics = gateway.metrics();
    CHECK(metrics.find(R"(gateway_function_invocation_total{code="200",function_name="echo"} 5)") !=
          std::string::npos);
    CHECK(metrics.find(R"(gateway_function_invocation_started{function_name="echo"} 5)") !=
          std::string::npos);
    CHECK(metrics.find(R"(gateway_functions_seconds_count{code="200",function_name="echo"} 5)") !=
          std::string::npos);
    CHECK(metrics.find(R"(gateway_service_count{function_name="echo"} 1)") != std::string::npos);
    CHECK(metrics.find("http_requests_total{") != std::string::npos);
    CHECK(gateway.status("echo")["invocationCount"] == 5.0);
}
