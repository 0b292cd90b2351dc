// fwatchdog's bounds as clients meet them: early answers that clients get to read, the budget
// on buffered bytes, and the listen address.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "support/raw_http.h"
#include "watchdog_fixture.h"

using faas::test::proc_status_kib;
using faas::test::TestProcess;
using faas::test::Watchdog;
using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kTwentyMiB = 20u << 20;

// What Python's http.client reads back for a POST of `size` bytes (see helpers/post_body.py).
std::string python_post(int port, std::size_t size) {
    TestProcess python({"/usr/bin/python3", FAAS_WATCHDOG_HELPERS_DIR "/post_body.py",
                        std::to_string(port), std::to_string(size)},
                       {});
    auto code = python.wait_exit(60s);
    CHECK_MESSAGE(code == 0, python.output());
    return python.output();
}

// Whether a TCP connection to `address`:`port` is accepted.
bool connects(const char* address, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, address, &addr.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

}  // namespace

TEST_CASE("a 413 for a 20 MiB body is read by Python's http.client and by curl") {
    Watchdog wd(Env{{"fprocess", "cat"}});
    const std::string expected = "Request body is larger than max_request_bytes (16777216 bytes).";

    auto python = python_post(wd.port, kTwentyMiB);
    CHECK_MESSAGE(python.rfind("413 " + expected, 0) == 0, python);

    std::string file = wd.tmp.path() + "/body";
    std::ofstream(file) << std::string(kTwentyMiB, 'c');
    const std::string url = "http://127.0.0.1:" + std::to_string(wd.port) + "/";
    for (const char* expect : {"Expect:", "Expect: 100-continue"}) {
        CAPTURE(expect);
        TestProcess curl({"/usr/bin/curl", "-sS", "-H", expect, "--data-binary", "@" + file, "-w",
                          "\n%{http_code}\n", url},
                         {});
        CHECK(curl.wait_exit(60s) == 0);
        CHECK_MESSAGE(curl.output().find(expected + "\n\n413\n") != std::string::npos,
                      curl.output());
    }
    CHECK(wd.forks() == 0);
    auto ok = wd.client().Post("/", "still serving", "text/plain");
    REQUIRE(ok);
    CHECK(ok->status == 200);
}

TEST_CASE("Expect: 100-continue over the bound is answered 413 at once, never 100 Continue") {
    Watchdog wd(Env{{"fprocess", "cat"}, {"max_request_bytes", "1Mi"}});
    auto refused = faas::test::raw_exchange(wd.port,
                                            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152"
                                            "\r\nExpect: 100-continue\r\n\r\n",
                                            5s);
    CHECK(status_line(refused) == "HTTP/1.1 413 Payload Too Large");
    CHECK(refused.find("100 Continue") == std::string::npos);
    CHECK(refused.find("Connection: close") != std::string::npos);

    // Within the bound the client is asked for the body, and gets its answer.
    auto accepted = faas::test::raw_exchange(wd.port,
                                             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                             "Expect: 100-continue\r\nConnection: close\r\n\r\n",
                                             1s);
    CHECK(status_line(accepted) == "HTTP/1.1 100 Continue");
    CHECK(wd.forks() == 0);
}

TEST_CASE("a 429 is read by a client that sends its whole body before reading") {
    Watchdog wd(
        Env{{"fprocess", "sh -c 'cat >/dev/null; sleep 1; echo slow'"}, {"max_inflight", "1"}});
    std::atomic<int> slow_status{0};
    std::thread slow([&] {
        auto res = wd.client().Post("/", "x", "text/plain");
        slow_status = res ? res->status : -1;
    });
    REQUIRE(faas::test::wait_until([&] { return wd.forks() == 1; }, 5s));
    auto python = python_post(wd.port, 8u << 20);
    CHECK_MESSAGE(python.rfind("429 Concurrent request limit exceeded", 0) == 0, python);
    slow.join();
    CHECK(slow_status == 200);
    CHECK(wd.forks() == 1);
}

TEST_CASE("with max_buffered_bytes spent, a new request gets 503 without forking") {
    // Room for two declared 16 MiB bodies, which two clients start and do not finish.
    Watchdog wd(Env{{"fprocess", "cat"}, {"max_buffered_bytes", "32Mi"}});
    std::vector<int> holders;
    for (int i = 0; i < 2; ++i) {
        int fd = faas::test::connect_loopback(wd.port);
        REQUIRE(fd >= 0);
        CHECK(faas::test::send_all(
            fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\nfirst bytes"));
        holders.push_back(fd);
    }
    std::string python;
    // The holders' requests are admitted by the server's threads, not in order with ours.
    bool refused = faas::test::wait_until(
        [&] {
            python = python_post(wd.port, 1u << 20);
            return python.rfind("503 ", 0) == 0;
        },
        5s);
    CHECK_MESSAGE(refused, python);
    CHECK(python.find("max_buffered_bytes") != std::string::npos);
    CHECK(wd.forks() == 0);
    for (int fd : holders) ::close(fd);
    // Once the holders are gone, their reservations are given back.
    CHECK(faas::test::wait_until(
        [&] {
            auto res = wd.client().Post("/", "back", "text/plain");
            return res && res->status == 200 && res->body == "back";
        },
        5s));
}

TEST_CASE("32 calls whose output overflows at once keep RSS under max_buffered_bytes") {
    Watchdog wd(Env{{"fprocess", "yes"}, {"max_buffered_bytes", "128Mi"}, {"exec_timeout", "30s"}});
    // Warm up the server's threads and code paths so idle RSS is comparable afterwards.
    REQUIRE(wd.client().Post("/", "x", "text/plain"));
    long idle = faas::test::rss_kib(wd.process->pid());
    std::atomic<int> overflowed{0};
    std::atomic<int> refused{0};
    std::atomic<int> other{0};
    std::vector<std::thread> calls;
    for (int i = 0; i < 32; ++i) {
        calls.emplace_back([&] {
            auto res = wd.client(60).Post("/", "x", "text/plain");
            int status = res ? res->status : -1;
            if (status == 502)
                ++overflowed;
            else if (status == 503)
                ++refused;
            else
                ++other;
        });
    }
    for (auto& call : calls) call.join();
    long peak = proc_status_kib(wd.process->pid(), "VmHWM");
    bool released = faas::test::wait_until(
        [&] { return faas::test::rss_kib(wd.process->pid()) - idle < 24 * 1024; }, 10s);
    long after = faas::test::rss_kib(wd.process->pid());
    MESSAGE("32 overflowing calls: " << overflowed.load() << " x 502, " << refused.load()
                                     << " x 503; RSS idle " << idle << " KiB, peak (VmHWM) " << peak
                                     << " KiB, after " << after << " KiB");
    // Each is refused one way or the other: 502 when its output passed max_response_bytes,
    // 503 when the budget could not pay for its output to grow.
    CHECK(other == 0);
    CHECK(overflowed + refused == 32);
    if (faas::test::kAddressSanitizer) {
        MESSAGE("ASan build: the RSS bounds are asserted in the debug build, not here");
    } else {
        CHECK(peak - idle < (128 + 48) * 1024);
        CHECK(released);
    }
}

TEST_CASE("bind_address: bound to 127.0.0.1, another loopback address is refused") {
    Watchdog bound(Env{{"fprocess", "cat"}, {"bind_address", "127.0.0.1"}});
    CHECK(connects("127.0.0.1", bound.port));
    CHECK(connects("127.0.0.1", bound.metrics_port));
    CHECK_FALSE(connects("127.0.0.2", bound.port));
    CHECK_FALSE(connects("127.0.0.2", bound.metrics_port));

    Watchdog any(Env{{"fprocess", "cat"}});  // 0.0.0.0 by default: every local address.
    CHECK(connects("127.0.0.2", any.port));
    CHECK(connects("127.0.0.2", any.metrics_port));

    TestProcess invalid({FAAS_WATCHDOG_PATH}, {{"fprocess", "cat"}, {"bind_address", "localhost"}});
    CHECK(invalid.wait_exit(5s) == 2);
    auto out = invalid.output();
    CHECK(out.find("bind_address") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}
