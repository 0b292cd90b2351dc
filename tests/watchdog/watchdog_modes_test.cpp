// fwatchdog's streaming and http modes.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "support/raw_http.h"
#include "upstream_process.h"
#include "watchdog_fixture.h"

using faas::test::Watchdog;
using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

TEST_CASE("streaming: a body larger than memory bounds flows through with flat RSS") {
    Watchdog wd(Env{{"fprocess", "cat"}, {"mode", "streaming"}, {"max_request_bytes", "1Gi"}});
    const std::size_t total = 96u << 20;
    const std::size_t chunk_size = 64 * 1024;
    long before = faas::test::rss_kib(wd.process->pid());
    int fd = faas::test::connect_loopback(wd.port);
    REQUIRE(fd >= 0);
    // Like curl, send and receive at once: a client that wrote everything before reading would
    // deadlock against any server that streams.
    std::thread sender([&] {
        std::string head =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        faas::test::send_all(fd, head);
        for (std::size_t offset = 0; offset < total; offset += chunk_size) {
            char size_line[32];
            std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk_size);
            std::string chunk(chunk_size, static_cast<char>('a' + (offset / chunk_size) % 26));
            if (!faas::test::send_all(fd, size_line + chunk + "\r\n")) return;
        }
        faas::test::send_all(fd, "0\r\n\r\n");
    });
    faas::test::ChunkedReader reader;
    long peak = before;
    bool pattern_ok = true;
    std::size_t received = 0;
    reader.on_data = [&](const char* data, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i)
            if (data[i] != static_cast<char>('a' + ((received + i) / chunk_size) % 26))
                pattern_ok = false;
        received += size;
        if (received % (8u << 20) < size)
            peak = std::max(peak, faas::test::rss_kib(wd.process->pid()));
    };
    bool complete = reader.read_response(fd, std::chrono::seconds(60));
    sender.join();
    ::close(fd);
    CHECK(complete);
    CHECK(reader.status == 200);
    CHECK(reader.chunked);
    CHECK(received == total);
    CHECK(pattern_ok);
    MESSAGE("RSS before " << before << " KiB, peak while streaming 96 MiB " << peak << " KiB");
    if (faas::test::kAddressSanitizer)
        MESSAGE("ASan build: the RSS bound is asserted in the debug build, not here");
    else
        CHECK(peak - before < 16 * 1024);
}

TEST_CASE("streaming: output arrives before the function has finished") {
    Watchdog wd(
        Env{{"fprocess", "sh -c 'echo first; sleep 2; echo second'"}, {"mode", "streaming"}});
    auto started = std::chrono::steady_clock::now();
    double first_at = -1;
    std::string body;
    auto res = wd.client().Get("/", [&](const char* data, std::size_t size) {
        if (first_at < 0)
            first_at =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        body.append(data, size);
        return true;
    });
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(body == "first\nsecond\n");
    CHECK(first_at < 1.5);
}

TEST_CASE("streaming: a timeout ends the response incomplete and kills the group") {
    Watchdog wd(Env{{"fprocess", "sh -c 'echo start; sleep 60 & sleep 60'"},
                    {"mode", "streaming"},
                    {"exec_timeout", "500ms"}});
    auto res = wd.client().Get("/");
    // The chunked response never gets its last chunk: the client must see an error.
    CHECK_FALSE(res);
    CHECK(faas::test::wait_until(
        [&] { return faas::test::descendants_of(wd.process->pid()).empty(); }, 3s));
}

namespace {
std::map<std::string, std::string> http_mode_env(int upstream_port,
                                                 std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {
        {"fprocess", FAAS_ECHO_SERVER_PATH},
        {"mode", "http"},
        {"PORT", std::to_string(upstream_port)},
        {"upstream_url", "http://127.0.0.1:" + std::to_string(upstream_port)},
    };
    env.insert(extra.begin(), extra.end());
    return env;
}
}  // namespace

TEST_CASE("http mode: requests are proxied to the warm process with method, path, query, headers") {
    int upstream_port = faas::test::free_port();
    Watchdog wd(http_mode_env(upstream_port));
    auto client = wd.client();
    auto res = client.Post("/a/b?x=1&y=a+b", {{"X-Custom", "yes"}}, "payload", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "payload");
    CHECK(res->get_header_value("X-Upstream-Method") == "POST");
    CHECK(res->get_header_value("X-Upstream-Path") == "/a/b");
    CHECK(res->get_header_value("X-Upstream-Query") == "x=1&y=a+b");
    CHECK(res->get_header_value("X-Upstream-Custom") == "yes");
    CHECK(res->get_header_value("Content-Type") == "text/x-echo");
    auto created = client.Put("/status/201", "", "text/plain");
    REQUIRE(created);
    CHECK(created->status == 201);
    // One process served everything: no per-request fork.
    CHECK(wd.forks() == 0);
}

TEST_CASE("http mode: health is 503 until the upstream accepts connections") {
    int upstream_port = faas::test::free_port();
    // The upstream listens on a different port than the watchdog probes: never ready.
    auto env = http_mode_env(upstream_port);
    env["PORT"] = std::to_string(faas::test::free_port());
    Watchdog wd(env, false);
    REQUIRE(faas::test::wait_until(
        [&] { return wd.process->output().find("Listening on port") != std::string::npos; }, 5s));
    auto health = wd.client().Get("/_/health");
    REQUIRE(health);
    CHECK(health->status == 503);
    auto res = wd.client().Post("/", "x", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 503);
}

TEST_CASE("http mode: exec_timeout answers 504") {
    int upstream_port = faas::test::free_port();
    Watchdog wd(http_mode_env(upstream_port, {{"exec_timeout", "500ms"}}));
    auto started = std::chrono::steady_clock::now();
    auto res = wd.client().Get("/slow");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    REQUIRE(res);
    CHECK(res->status == 504);
    CHECK(seconds < 2.0);
}

TEST_CASE("http mode: a dead upstream is restarted and serves again") {
    int upstream_port = faas::test::free_port();
    Watchdog wd(http_mode_env(upstream_port));
    auto crash = wd.client().Get("/crash");
    REQUIRE(crash);
    CHECK(crash->status == 502);
    REQUIRE(faas::test::wait_until(
        [&] {
            auto out = wd.process->output();
            return out.find("Upstream process exited") != std::string::npos;
        },
        5s));
    CHECK(faas::test::wait_for_http(wd.port, "/_/health", 200, 10s));
    auto res = wd.client().Post("/", "again", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "again");
}

TEST_CASE("http mode: SIGTERM stops the upstream too") {
    int upstream_port = faas::test::free_port();
    Watchdog wd(http_mode_env(upstream_port));
    REQUIRE(faas::watchdog::can_connect("127.0.0.1", upstream_port, 500ms));
    wd.process->signal(SIGTERM);
    CHECK(wd.process->wait_exit(10s) == 0);
    CHECK_FALSE(faas::watchdog::can_connect("127.0.0.1", upstream_port, 500ms));
}

TEST_CASE("http mode: a watchdog killed outright leaves no orphaned upstream") {
    int upstream_port = faas::test::free_port();
    Watchdog wd(http_mode_env(upstream_port));
    REQUIRE(faas::watchdog::can_connect("127.0.0.1", upstream_port, 500ms));
    ::kill(wd.process->pid(), SIGKILL);  // The watchdog only, not its process group.
    CHECK(faas::test::wait_until(
        [&] { return !faas::watchdog::can_connect("127.0.0.1", upstream_port, 200ms); }, 5s));
}
