// Gateway metrics.
#include "metrics.h"

#include <doctest/doctest.h>

using namespace faas::gateway;

TEST_CASE("invocations are counted per function and code, and summed for invocationCount") {
    Metrics metrics;
    metrics.invocation_started("echo");
    metrics.invocation_finished("echo", 200, 0.01);
    metrics.invocation_finished("echo", 200, 0.02);
    metrics.invocation_finished("echo", 500, 0.5);
    CHECK(metrics.invocation_count("echo") == 3);
    CHECK(metrics.invocation_count("other") == 0);
    auto text = metrics.serialize();
    CHECK(text.find(R"(gateway_function_invocation_total{code="200",function_name="echo"} 2)") !=
          std::string::npos);
    CHECK(text.find(R"(gateway_function_invocation_started{function_name="echo"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(gateway_functions_seconds_count{code="500",function_name="echo"} 1)") !=
          std::string::npos);
}

TEST_CASE("service counts track exactly the listed functions, and forget drops everything") {
    Metrics metrics;
    metrics.set_service_counts({{"a", 2}, {"b", 0}});
    auto text = metrics.serialize();
    CHECK(text.find(R"(gateway_service_count{function_name="a"} 2)") != std::string::npos);
    metrics.set_service_counts({{"b", 1}});
    text = metrics.serialize();
    CHECK(text.find(R"(function_name="a")") == std::string::npos);
    metrics.invocation_finished("b", 200, 0.1);
    metrics.forget("b");
    text = metrics.serialize();
    CHECK(text.find(R"(function_name="b")") == std::string::npos);
}

TEST_CASE("HTTP metrics label the route, not the raw path") {
    Metrics metrics;
    metrics.http_request("GET", "/function/{name}", 404, 0.001);
    metrics.http_request("BREW", "other", 400, 0.001);
    auto text = metrics.serialize();
    CHECK(
        text.find(R"(http_requests_total{method="GET",path="/function/{name}",status="404"} 1)") !=
        std::string::npos);
    CHECK(text.find(R"(method="other")") != std::string::npos);
}
