// The route table: matching, the Allow header and labels all come from its rows.
#include "routes.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace faas::gateway;

TEST_CASE("a pattern with {name} matches one non-empty segment, {name...} the rest") {
    CHECK(matches("/system/function/{name}", "/system/function/abc"));
    CHECK_FALSE(matches("/system/function/{name}", "/system/function/"));
    CHECK_FALSE(matches("/system/function/{name}", "/system/function/a/b"));
    CHECK(matches("/function/{name...}", "/function/a"));
    CHECK(matches("/function/{name...}", "/function/a/b/c"));
    CHECK_FALSE(matches("/function/{name...}", "/function/"));
    CHECK(matches("/", "/"));
    CHECK_FALSE(matches("/system/info", "/system/infos"));
    CHECK(matches("/system/builds/{id}/logs", "/system/builds/b1/logs"));
    CHECK_FALSE(matches("/system/builds/{id}/logs", "/system/builds//logs"));
    CHECK_FALSE(matches("/system/builds/{id}/logs", "/system/builds/a/b/logs"));
    CHECK_FALSE(matches("/system/builds/{id}/logs", "/system/builds/b1/logsx"));
    CHECK_FALSE(matches("/system/builds/{id}/logs", "/system/builds/logs"));
    CHECK_FALSE(matches("/system/builds/{id}", "/system/builds/b1/logs"));
}

TEST_CASE("every row is found for its own method, and its path's Allow lists that method") {
    for (const Route& row : kRoutes) {
        std::string path(row.pattern);
        for (std::string_view placeholder : {"{name...}", "{name}", "{id}"})
            if (auto at = path.find(placeholder); at != std::string::npos)
                path.replace(at, placeholder.size(), "fn");
        const std::string method = row.method == "*" ? "PATCH" : std::string(row.method);
        CAPTURE(path);
        CAPTURE(method);
        const RouteMatch match = find_route(method, path);
        REQUIRE(match.route == &row);
        CHECK(match.label == row.pattern);
        CHECK(match.allowed.empty());  // built only for a 405
        CHECK(find_route("NOPE", path).allowed.find(method) != std::string::npos);
    }
}

TEST_CASE("HEAD is served by GET rows, other methods get the path's Allow") {
    auto match = find_route("HEAD", "/system/info");
    REQUIRE(match.route != nullptr);
    CHECK(match.route->method == "GET");
    match = find_route("POST", "/system/info");
    CHECK(match.route == nullptr);
    CHECK(match.allowed == "GET, HEAD");
    match = find_route("PATCH", "/system/functions");
    CHECK(match.route == nullptr);
    CHECK(match.allowed == "GET, HEAD, POST, PUT, DELETE");
    CHECK(match.label == "/system/functions");
    match = find_route("TRACE", "/function/fn/x");
    CHECK(match.route == nullptr);
    CHECK(match.allowed == kFunctionMethods);
}

TEST_CASE("an unknown path has no Allow and the label 'other'") {
    for (std::string_view path : {"/system", "/systemx/info", "/nope", "/system/function/"}) {
        CAPTURE(path);
        const auto match = find_route("GET", path);
        CHECK(match.route == nullptr);
        CHECK(match.allowed.empty());
        CHECK(match.label == kOtherRoute);
    }
}

TEST_CASE("every admin path is behind auth and every /system path is admin") {
    for (const Route& row : kRoutes) {
        CAPTURE(row.pattern);
        CHECK(row.admin == row.pattern.starts_with("/system"));
        CHECK((row.handler == nullptr) == (row.lane == Lane::kLoop && row.method != "GET"));
    }
}
