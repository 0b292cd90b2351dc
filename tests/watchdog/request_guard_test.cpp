// Early request checks: methods, header syntax and size, request framing.
#include "request_guard.h"

#include <doctest/doctest.h>

using faas::watchdog::check_request;

namespace {
httplib::Request request(std::string method, httplib::Headers headers = {}) {
    httplib::Request req;
    req.method = std::move(method);
    req.version = "HTTP/1.1";
    req.headers = std::move(headers);
    return req;
}
int status_of(const httplib::Request& req, std::uint64_t max = 1024) {
    auto rejection = check_request(req, max);
    return rejection ? rejection->status : 0;
}
}  // namespace

TEST_CASE("the five function methods pass, others get 405") {
    for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"})
        CHECK(status_of(request(m)) == 0);
    for (const char* m : {"HEAD", "OPTIONS", "TRACE", "CONNECT", "PRI"})
        CHECK(status_of(request(m)) == 405);
}

TEST_CASE("header names outside RFC token characters are refused") {
    CHECK(status_of(request("POST", {{"X-Ok", "1"}})) == 0);
    CHECK(status_of(request("POST", {{"X=Evil", "1"}})) == 400);
    CHECK(status_of(request("POST", {{std::string("X\0Y", 3), "1"}})) == 400);
    CHECK(status_of(request("POST", {{"X Y", "1"}})) == 400);
    CHECK(status_of(request("POST", {{"X-Ok", std::string("a\0b", 3)}})) == 400);
}

TEST_CASE("synthetic cpp-httplib headers do not count") {
    CHECK(status_of(request("POST", {{"REMOTE_ADDR", "127.0.0.1"}, {"LOCAL_PORT", "80"}})) == 0);
}

TEST_CASE("too many or too large headers give 431") {
    httplib::Headers many;
    for (int i = 0; i < 128; ++i) many.emplace("X-H" + std::to_string(i), "v");
    CHECK(status_of(request("POST", many)) != 431);  // the gateway's 100 plus what it adds
    many.emplace("X-H128", "v");
    CHECK(status_of(request("POST", many)) == 431);
    httplib::Headers large;
    for (int i = 0; i < 10; ++i) large.emplace("X-L" + std::to_string(i), std::string(8000, 'a'));
    CHECK(status_of(request("POST", large)) == 431);
}

TEST_CASE("ambiguous framing is refused") {
    CHECK(status_of(request("POST", {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}})) ==
          400);
    CHECK(status_of(request("POST", {{"Transfer-Encoding", "xchunked"}})) == 400);
    CHECK(status_of(request("POST", {{"Transfer-Encoding", "chunked, identity"}})) == 400);
    CHECK(status_of(request("POST", {{"Transfer-Encoding", "chunked"},
                                     {"Transfer-Encoding", "chunked"}})) == 400);
    CHECK(status_of(request("POST", {{"Content-Length", "5"}, {"Content-Length", "6"}})) == 400);
    CHECK(status_of(request("POST", {{"Content-Length", "5"}, {"Content-Length", "5"}})) == 0);
    CHECK(status_of(request("POST", {{"Content-Length", "-1"}})) == 400);
    CHECK(status_of(request("POST", {{"Content-Length", "0x10"}})) == 400);
    CHECK(status_of(request("POST", {{"Transfer-Encoding", "Chunked"}})) == 0);
    CHECK(status_of(request("GET", {{"Content-Length", "3"}})) == 400);
    auto http10 = request("POST", {{"Transfer-Encoding", "chunked"}});
    http10.version = "HTTP/1.0";
    CHECK(status_of(http10) == 400);
}

TEST_CASE("a declared body over the limit gives 413 before reading") {
    CHECK(status_of(request("POST", {{"Content-Length", "1024"}}), 1024) == 0);
    CHECK(status_of(request("POST", {{"Content-Length", "1025"}}), 1024) == 413);
}
