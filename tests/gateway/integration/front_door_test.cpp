// The gateway's front door end to end: the real gateway, the local provider and a real
// fwatchdog replica whose function writes down every call it gets. Requests two parsers could
// read two ways are refused and their connection closed, and nothing reaches the function;
// a body over the bound is answered 413 in a way real clients read; chunked, Expect and
// HTTP/1.0 calls reach the function like a plain one and are counted the same.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "../http/raw_client.h"
#include "integration/gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;

namespace {

// A function that appends a line to `calls_file` per call and answers with the body it got.
std::string counter_script(const TempDir& dir, const std::string& calls_file) {
    return write_script(dir, "counter.sh", "echo call >> '" + calls_file + "'\ncat\n");
}

int calls(const std::string& calls_file) {
    std::ifstream in(calls_file);
    int lines = 0;
    std::string line;
    while (lines < 1000000 && std::getline(in, line)) ++lines;
    return lines;
}

std::string invocation_series(const std::string& function, int code) {
    return "gateway_function_invocation_total{code=\"" + std::to_string(code) +
           "\",function_name=\"" + function + "\"}";
}

// The count of `series` in the /metrics text, 0 when absent.
long metric_value(const std::string& metrics, const std::string& series) {
    const auto at = metrics.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::strtol(metrics.c_str() + at + series.size() + 1, nullptr, 10);
}

// Runs `command` under sh and returns what it printed on stdout.
std::string run_command(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    ::pclose(pipe);
    return out;
}

struct Probe {
    const char* name;
    std::string bytes;
    int status;
};

// Every request here is refused before any function is called. Each carries a second request
// behind it (as a body, or as a smuggled pipelined request) that must not be served either.
std::vector<Probe> framing_probes() {
    const std::string smuggled =
        "POST /function/counter HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    const std::string call = "POST /function/counter HTTP/1.1\r\n";
    return {
        {"two Content-Length, 5 then 52",
         call + "Host: x\r\nContent-Length: 5\r\nContent-Length: 52\r\n\r\nhello" + smuggled, 400},
        {"two Content-Length, 52 then 5",
         call + "Host: x\r\nContent-Length: 52\r\nContent-Length: 5\r\n\r\nhello" + smuggled, 400},
        {"a Content-Length list", call + "Host: x\r\nContent-Length: 5, 52\r\n\r\nhello" + smuggled,
         400},
        {"a signed Content-Length", call + "Host: x\r\nContent-Length: +5\r\n\r\nhello" + smuggled,
         400},
        {"Transfer-Encoding twice",
         call +
             "Host: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
             "5\r\nhello\r\n0\r\n\r\n" +
             smuggled,
         400},
        {"Transfer-Encoding chunked twice",
         call +
             "Host: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n0\r\n\r\n" +
             smuggled,
         400},
        {"Transfer-Encoding and Content-Length",
         call +
             "Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n" +
             smuggled,
         400},
        {"Content-Length after Transfer-Encoding",
         call +
             "Host: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
             "0\r\n\r\n" +
             smuggled,
         400},
        {"Transfer-Encoding: xchunked",
         call + "Host: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled,
         400},
        {"Transfer-Encoding: chunked, identity",
         call + "Host: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
             smuggled,
         400},
        {"a space before the colon", call + "Host: x\r\nContent-Length : 5\r\n\r\nhello" + smuggled,
         400},
        {"a space before the colon of Transfer-Encoding",
         call + "Host: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello" +
             smuggled,
         400},
        {"a NUL in a header value",
         call + "Host: x\r\nX-Evil: a" + std::string(1, '\0') + "b\r\nContent-Length: 5\r\n\r\n" +
             "hello" + smuggled,
         400},
        {"obs-fold",
         call + "Host: x\r\nX-A: one\r\n two\r\nContent-Length: 5\r\n\r\nhello" + smuggled, 400},
        {"a bare LF",
         "POST /function/counter HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello" + smuggled, 400},
        {"two Host headers",
         call + "Host: x\r\nHost: y\r\nContent-Length: 5\r\n\r\nhello" + smuggled, 400},
        {"no Host", call + "Content-Length: 5\r\n\r\nhello" + smuggled, 400},
        {"chunked over HTTP/1.0",
         "POST /function/counter HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n0\r\n\r\n" +
             smuggled,
         400},
        {"HTTP/2.0",
         "POST /function/counter HTTP/2.0\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + smuggled,
         505},
        {"Expect other than 100-continue",
         call + "Host: x\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\nhello" + smuggled, 417},
        {"a request line over 8 KiB",
         "POST /function/counter?" + std::string(9 << 10, 'q') +
             " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + smuggled,
         414},
        {"a head over 64 KiB",
         call + "Host: x\r\nX-Big: " + std::string(70 << 10, 'v') +
             "\r\nContent-Length: 5\r\n\r\nhello" + smuggled,
         431},
    };
}

}  // namespace

TEST_CASE("front door: ambiguous framing is refused, the connection closed, no call made") {
    TempDir scripts;
    const std::string calls_file = scripts.path() + "/calls";
    const std::string script = counter_script(scripts, calls_file);
    GatewayFixture gateway;
    gateway.deploy_ready("counter", "sh " + script);

    for (const Probe& probe : framing_probes()) {
        CAPTURE(probe.name);
        RawClient client(gateway.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(probe.bytes));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == probe.status);
        CHECK(response->header("Connection") == "close");
        // Nothing more: in particular not an answer to the request smuggled behind it.
        CHECK(client.closed_by_server());
    }

    // The function was never called: one good call now is its first, and the only one.
    auto http = gateway.client();
    auto good = http.Post("/function/counter", "good", "text/plain");
    REQUIRE(good);
    CHECK(good->status == 200);
    CHECK(good->body == "good");
    CHECK(calls(calls_file) == 1);
    const std::string metrics = gateway.metrics();
    CHECK(metric_value(metrics, invocation_series("counter", 200)) == 1);
    for (int code : {400, 413, 414, 417, 431, 505})
        CHECK(metric_value(metrics, invocation_series("counter", code)) == 0);
}

TEST_CASE("front door: a body over max_request_bytes is answered 413 and real clients read it") {
    TempDir scripts;
    const std::string calls_file = scripts.path() + "/calls";
    const std::string script = counter_script(scripts, calls_file);
    GatewayFixture gateway(GatewayEnv{{"max_request_bytes", "1Mi"}});
    gateway.deploy_ready("counter", "sh " + script);
    const std::string url =
        "http://127.0.0.1:" + std::to_string(gateway.port()) + "/function/counter";
    const std::string big_file = scripts.path() + "/big";
    {
        std::ofstream out(big_file, std::ios::binary);
        const std::string block(1 << 20, 'x');
        for (int i = 0; i < 20; ++i) out << block;
    }

    SUBCASE("Python http.client sends 20 MiB without Expect and reads the 413") {
        const std::string script_text =
            "import http.client\n"
            "c = http.client.HTTPConnection('127.0.0.1', " +
            std::to_string(gateway.port()) +
            ", timeout=30)\n"
            "try:\n"
            "    c.request('POST', '/function/counter', body=b'x' * (20 << 20))\n"
            "    print(c.getresponse().status)\n"
            "except Exception as e:\n"
            "    print('error', type(e).__name__, e)\n";
        const std::string py = scripts.path() + "/client.py";
        std::ofstream(py) << script_text;
        CHECK(run_command("python3 '" + py + "' 2>&1") == "413\n");
    }
    SUBCASE("curl sends 20 MiB without Expect and reads the 413") {
        CHECK(run_command("curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -H 'Expect:' "
                          "--data-binary @'" +
                          big_file + "' '" + url + "' 2>&1") == "413");
    }
    SUBCASE("curl with Expect: 100-continue gets 413 and no 100 Continue first") {
        const std::string trace = run_command(
            "curl -sS -v --max-time 30 -o /dev/null -w 'code=%{http_code}\\n' "
            "-H 'Expect: 100-continue' --data-binary @'" +
            big_file + "' '" + url + "' 2>&1");
        CAPTURE(trace);
        CHECK(trace.find("code=413") != std::string::npos);
        CHECK(trace.find("< HTTP/1.1 413") != std::string::npos);
        CHECK(trace.find("HTTP/1.1 100") == std::string::npos);
    }
    SUBCASE("a raw client asking 100-continue gets the 413 as the first thing it reads") {
        RawClient client(gateway.port());
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /function/counter HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                            std::to_string(20 << 20) + "\r\nExpect: 100-continue\r\n\r\n"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
    }
    SUBCASE("a chunked body that grows past the bound is answered 413") {
        RawClient client(gateway.port());
        REQUIRE(client.connected());
        const std::string head =
            "POST /function/counter HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        // Sent from a thread: the server answers before it has read everything.
        std::thread sender(
            [&] { client.send(head + chunked(std::string(2 << 20, 'c'), 64 << 10)); });
        auto response = client.read(false, 30s);
        sender.join();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(client.closed_by_server());
    }
    // A body at the bound is served.
    auto http = gateway.client(30s);
    auto fits = http.Post("/function/counter", std::string(1 << 20, 'f'), "text/plain");
    REQUIRE(fits);
    CHECK(fits->status == 200);
    CHECK(fits->body.size() == std::size_t{1} << 20);
    CHECK(calls(calls_file) == 1);
}

TEST_CASE("front door: chunked, Expect and HTTP/1.0 calls reach the function like a plain one") {
    TempDir scripts;
    const std::string calls_file = scripts.path() + "/calls";
    const std::string script = counter_script(scripts, calls_file);
    GatewayFixture gateway;
    gateway.deploy_ready("counter", "sh " + script);
    const std::string series = invocation_series("counter", 200);
    const std::string body = pattern(100000, 3);

    struct Call {
        const char* name;
        std::string bytes;
        bool expect_continue = false;
    };
    const std::string call = "POST /function/counter HTTP/1.1\r\nHost: x\r\n";
    const std::vector<Call> kinds = {
        {"plain", call + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body},
        {"chunked", call + "Transfer-Encoding: chunked\r\n\r\n" + chunked(body, 7000)},
        {"Expect: 100-continue",
         call + "Content-Length: " + std::to_string(body.size()) +
             "\r\nExpect: 100-continue\r\n\r\n",
         true},
        {"HTTP/1.0", "POST /function/counter HTTP/1.0\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body},
        {"HTTP/1.0 keep-alive",
         "POST /function/counter HTTP/1.0\r\nConnection: keep-alive\r\n"
         "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body},
    };
    int expected_calls = 0;
    for (const Call& kind : kinds) {
        CAPTURE(kind.name);
        RawClient client(gateway.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(kind.bytes));
        if (kind.expect_continue) {
            auto interim = client.read();
            REQUIRE(interim.has_value());
            CHECK(interim->status == 100);
            REQUIRE(client.send(body));
        }
        auto response = client.read(false, 20s);
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body.size() == body.size());
        CHECK(response->body == body);
        ++expected_calls;
        CHECK(calls(calls_file) == expected_calls);
        // Counted once, like every other call (the count may land just after the answer).
        CHECK(wait_until([&] { return metric_value(gateway.metrics(), series) == expected_calls; },
                         5s));
        const bool keeps = std::string(kind.name) != "HTTP/1.0";
        if (keeps) {
            CHECK(response->header("Connection") != "close");
        } else {
            CHECK(client.closed_by_server());
        }
    }
    CHECK(metric_value(gateway.metrics(), series) == static_cast<long>(kinds.size()));
}
