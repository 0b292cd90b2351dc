// Bad configuration and hostile or broken clients and functions: each gets a clear answer,
// the watchdog stays up, nothing leaks.
#include <doctest/doctest.h>
#include <unistd.h>

#include "watchdog_fixture.h"

using faas::test::raw_exchange;
using faas::test::TestProcess;
using faas::test::Watchdog;
using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

namespace {
std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}
}  // namespace

TEST_CASE("a missing fprocess stops start-up with one line and exit code 2") {
    TestProcess process({FAAS_WATCHDOG_PATH}, {{"port", "0"}});
    CHECK(process.wait_exit(5s) == 2);
    auto out = process.output();
    CHECK(out.find("fprocess") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("an unparsable timeout stops start-up naming the variable") {
    TestProcess process({FAAS_WATCHDOG_PATH}, {{"fprocess", "cat"}, {"exec_timeout", "a while"}});
    CHECK(process.wait_exit(5s) == 2);
    CHECK(process.output().find("exec_timeout") != std::string::npos);
}

TEST_CASE("malformed requests get clear statuses and closed connections") {
    Watchdog wd(Env{{"fprocess", "cat"}});
    SUBCASE("a header name with '='") {
        auto r = raw_exchange(
            wd.port, "POST / HTTP/1.1\r\nHost: x\r\nBad=Name: 1\r\nContent-Length: 0\r\n\r\n");
        CHECK(status_line(r) == "HTTP/1.1 400 Bad Request");
    }
    SUBCASE("a NUL in a header") {
        const char request[] =
            "POST / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n";
        auto r = raw_exchange(wd.port, std::string(request, sizeof request - 1));
        CHECK(status_line(r).rfind("HTTP/1.1 400", 0) == 0);
    }
    SUBCASE("an oversized header line") {
        auto r = raw_exchange(
            wd.port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
        CHECK(status_line(r) == "HTTP/1.1 431 Request Header Fields Too Large");
    }
    SUBCASE("too many headers") {
        std::string req = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 150; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
        auto r = raw_exchange(wd.port, req + "\r\n");
        CHECK(status_line(r) == "HTTP/1.1 431 Request Header Fields Too Large");
    }
    SUBCASE("Content-Length with Transfer-Encoding, smuggled request behind it") {
        auto r = raw_exchange(
            wd.port,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(status_line(r) == "HTTP/1.1 400 Bad Request");
        // One response only, then the connection is closed: the tail is never read as a request.
        CHECK(r.find("HTTP/1.1", 5) == std::string::npos);
    }
    SUBCASE("an unknown method") {
        auto r = raw_exchange(wd.port, "BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(status_line(r) == "HTTP/1.1 405 Method Not Allowed");
    }
    SUBCASE("a 429-style early answer does not let the unread body become a request") {
        auto r = raw_exchange(wd.port,
                              "OPTIONS / HTTP/1.1\r\nHost: x\r\nContent-Length: 34\r\n\r\n"
                              "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(status_line(r) == "HTTP/1.1 405 Method Not Allowed");
        CHECK(r.find("HTTP/1.1", 5) == std::string::npos);
    }
    CHECK(wd.forks() == 0);
    auto health = wd.client().Get("/_/health");
    REQUIRE(health);
    CHECK(health->status == 200);
}

TEST_CASE(
    "a client that disconnects mid-body starts nothing - one that leaves mid-run leaves no "
    "zombie") {
    Watchdog wd(Env{{"fprocess", "sh -c 'cat >/dev/null; sleep 1; echo done'"}});
    raw_exchange(wd.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly-a-little",
                 200ms);
    raw_exchange(wd.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody", 200ms);
    // The second client left while its function ran; the function still ends and is reaped.
    CHECK(faas::test::wait_until([&] { return wd.forks() == 1; }, 2s));
    CHECK(faas::test::wait_until(
        [&] {
            return faas::test::descendants_of(wd.process->pid()).empty() &&
                   faas::test::zombie_children(wd.process->pid()) == 0 &&
                   wd.process->output().find("Wrote 5 Bytes") != std::string::npos;
        },
        5s));
    CHECK(wd.forks() == 1);
}

TEST_CASE("functions that ignore stdin, close stdout early or exit at once are answered") {
    std::string big(4 << 20, 'b');
    SUBCASE("never reads stdin") {
        Watchdog wd(Env{{"fprocess", "echo ignored-input"}});
        auto res = wd.client().Post("/", big, "text/plain");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body == "ignored-input\n");
    }
    SUBCASE("closes stdout early") {
        Watchdog wd(Env{{"fprocess", "sh -c 'echo bye; exec >&-; cat >/dev/null'"}});
        auto res = wd.client().Post("/", big, "text/plain");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body == "bye\n");
    }
    SUBCASE("exits before reading") {
        Watchdog wd(Env{{"fprocess", "sh -c 'exit 4'"}});
        auto res = wd.client().Post("/", big, "text/plain");
        REQUIRE(res);
        CHECK(res->status == 500);
        CHECK(res->body == "exit status 4\n");
        CHECK(faas::test::zombie_children(wd.process->pid()) == 0);
    }
}

TEST_CASE(
    "a POST without Content-Length or Transfer-Encoding has an empty body, answered at once") {
    // RFC 9112 6.3: what `curl -X POST` sends. cpp-httplib alone would read until read_timeout.
    Watchdog wd(Env{{"fprocess", "wc -c"}, {"read_timeout", "30s"}});
    for (const char* method : {"POST", "PUT", "PATCH"}) {
        CAPTURE(method);
        const auto started = std::chrono::steady_clock::now();
        auto r = raw_exchange(
            wd.port, std::string(method) + " / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            10s);
        CHECK(status_line(r) == "HTTP/1.1 200 OK");
        CHECK(r.substr(r.find("\r\n\r\n") + 4) == "0\n");
        CHECK(std::chrono::steady_clock::now() - started < 5s);
    }
}
