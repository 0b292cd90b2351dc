// Route parsing and name validation.
#include "names.h"

#include <doctest/doctest.h>

using namespace faas::gateway;

TEST_CASE("valid names are DNS labels") {
    for (const char* good : {"a", "echo", "cat-service", "fn1", "0abc", "a-b-c"}) {
        CAPTURE(good);
        CHECK(is_valid_name(good));
    }
    std::string longest(63, 'a');
    CHECK(is_valid_name(longest));
}

TEST_CASE("invalid names are refused before any lookup") {
    for (const char* bad : {"", "..", "../x", "a/b", "%2e%2e", "A", "Echo", "a:9999", "a@evil",
                            "a b", "-a", "a-", "a_b", "a.b", "caf\xc3\xa9", "a\nb"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_valid_name(bad));
    }
    CHECK_FALSE(is_valid_name(std::string(64, 'a')));
}

TEST_CASE("function targets split into name, namespace and upstream path") {
    auto route = parse_function_target("/function/echo", "openfaas-fn");
    REQUIRE(route);
    REQUIRE(route->name.ref);
    CHECK(route->name.ref->name == "echo");
    CHECK(route->upstream_path == "/");

    route = parse_function_target("/function/echo/a/b%20c?x=1&y=2", "openfaas-fn");
    REQUIRE(route->name.ref);
    CHECK(route->upstream_path == "/a/b%20c?x=1&y=2");

    route = parse_function_target("/function/echo?x=1", "openfaas-fn");
    REQUIRE(route->name.ref);
    CHECK(route->name.ref->name == "echo");
    CHECK(route->upstream_path == "/?x=1");

    route = parse_function_target("/function/echo.openfaas-fn/p", "openfaas-fn");
    REQUIRE(route->name.ref);
    CHECK(route->name.ref->name == "echo");
    CHECK(route->name.ref->namespace_ == "openfaas-fn");
    CHECK(route->upstream_path == "/p");

    CHECK_FALSE(parse_function_target("/system/functions", "openfaas-fn"));
}

TEST_CASE("bad names in targets: 400 class errors, other namespaces: 404 class") {
    for (const char* bad :
         {"/function/", "/function/%2e%2e/x", "/function/..", "/function/a%2Fb", "/function/UPPER",
          "/function/a:80", "/function/a@b", "/function/a..b", "/function/a.", "/function/.ns"}) {
        CAPTURE(bad);
        auto route = parse_function_target(bad, "openfaas-fn");
        REQUIRE(route);
        CHECK_FALSE(route->name.ref);
        CHECK(route->name.error != RouteError::kOtherNamespace);
    }
    auto other = parse_function_target("/function/echo.other", "openfaas-fn");
    REQUIRE(other);
    CHECK_FALSE(other->name.ref);
    CHECK(other->name.error == RouteError::kOtherNamespace);
}

TEST_CASE("Alexa skill bodies name the intent") {
    CHECK(alexa_intent_name(R"({"request":{"intent":{"name":"hostname"}}})") == "hostname");
    CHECK_FALSE(alexa_intent_name(R"({"request":{}})"));
    CHECK_FALSE(alexa_intent_name("not json"));
    CHECK_FALSE(alexa_intent_name(R"({"request":{"intent":{"name":42}}})"));
}

TEST_CASE("secret names are file-safe") {
    CHECK(is_valid_secret_name("basic-auth-user"));
    CHECK(is_valid_secret_name("api_key.v2"));
    CHECK_FALSE(is_valid_secret_name(".."));
    CHECK_FALSE(is_valid_secret_name("a/b"));
    CHECK_FALSE(is_valid_secret_name(".hidden"));
    CHECK_FALSE(is_valid_secret_name("a..b"));
}
