// The per-request child environment.
#include "cgi_env.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace faas::watchdog;

namespace {
httplib::Request request() {
    httplib::Request req;
    req.method = "POST";
    req.path = "/a b/c";
    req.target = "/a%20b/c?x=1&y=%20";
    req.headers = {{"Host", "fn.example"},       {"Content-Type", "text/plain"},
                   {"x-custom-thing", "v1"},     {"X-Custom-Thing", "v2"},
                   {"REMOTE_ADDR", "127.0.0.1"}, {"Content-Length", "5"}};
    return req;
}
bool has(const std::vector<std::string>& env, const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
}
int count_prefix(const std::vector<std::string>& env, const std::string& prefix) {
    return static_cast<int>(std::count_if(
        env.begin(), env.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; }));
}
}  // namespace

TEST_CASE("header names are canonicalised as Go does") {
    CHECK(canonical_header_name("x-forwarded-for") == "X-Forwarded-For");
    CHECK(canonical_header_name("CONTENT-TYPE") == "Content-Type");
}

TEST_CASE("request facts and headers become Http_ variables") {
    auto req = request();
    auto env = build_child_env({"PATH=/bin", "HOME=/root"}, req, facts_of(req, 5), true);
    CHECK(has(env, "PATH=/bin"));
    CHECK(has(env, "Http_Method=POST"));
    CHECK(has(env, "Http_Path=/a b/c"));
    CHECK(has(env, "Http_Query=x=1&y=%20"));
    CHECK(has(env, "Http_Host=fn.example"));
    CHECK(has(env, "Http_ContentLength=5"));
    CHECK(has(env, "Http_Content_Length=5"));
    CHECK(has(env, "Http_Transfer_Encoding="));
    CHECK(has(env, "Http_Content_Type=text/plain"));
    CHECK(count_prefix(env, "Http_X_Custom_Thing=") == 1);  // first value only
    CHECK(count_prefix(env, "Http_REMOTE") == 0);
    CHECK(count_prefix(env, "Http_Remote") == 0);
}

TEST_CASE("client headers cannot override reserved names or set proxies") {
    auto req = request();
    req.headers.emplace("Method", "DELETE");
    req.headers.emplace("Path", "/etc/passwd");
    req.headers.emplace("Query", "evil");
    req.headers.emplace("ContentLength", "999");
    req.headers.emplace("Proxy", "http://evil:3128");
    req.headers.emplace("X-Proxy", "http://evil:3128");
    req.headers.emplace("Proxy=", "http://evil:3128");  // found by the request fuzz target
    req.headers.emplace("X=Y", "z");
    auto env = build_child_env({"PATH=/bin"}, req, facts_of(req, 5), true);
    CHECK(count_prefix(env, "Http_Method=") == 1);
    CHECK(has(env, "Http_Method=POST"));
    CHECK(has(env, "Http_Path=/a b/c"));
    CHECK(has(env, "Http_Query=x=1&y=%20"));
    CHECK(has(env, "Http_ContentLength=5"));
    for (const auto& entry : env) {
        std::string name = entry.substr(0, entry.find('='));
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        CHECK_MESSAGE(lower.find("proxy") == std::string::npos, name);
        CHECK_MESSAGE((name.rfind("Http_", 0) == 0 || name == "PATH"), name);
    }
}

TEST_CASE("inherited Http_ variables are dropped - cgi_headers=false adds none") {
    auto req = request();
    auto env = build_child_env({"PATH=/bin", "Http_Method=GET", "HTTP_PROXY=x"}, req,
                               facts_of(req, 5), false);
    CHECK(env == std::vector<std::string>{"PATH=/bin"});
}

TEST_CASE("streaming facts use the declared length or -1") {
    auto req = request();
    CHECK(facts_of(req, std::nullopt).content_length == "5");
    req.headers.erase("Content-Length");
    CHECK(facts_of(req, std::nullopt).content_length == "-1");
}

TEST_CASE("marshal_request wraps headers and a base64 body") {
    auto req = request();
    auto text = marshal_request_body(req, "hi!?");
    CHECK(text.find("\"raw\":\"aGkhPw==\"") != std::string::npos);
    CHECK(text.find("\"X-Custom-Thing\":[\"v1\",\"v2\"]") != std::string::npos);
    CHECK(text.find("REMOTE_ADDR") == std::string::npos);
}
