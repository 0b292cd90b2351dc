// Answers made on worker threads: respond_from_worker, whole or streamed through a BodyWriter
// with back-pressure: a worker cannot run ahead of a slow reader by more than a bounded amount,
// and stops when the client goes away or stops reading for write_timeout.
#include <doctest/doctest.h>
#include <sys/time.h>

#include "event_server_fixture.h"

using namespace faas::test;
using Clock = std::chrono::steady_clock;

namespace {

// Waits until `counter` has not changed for `quiet`, within `timeout`; returns its value.
std::size_t settle(const std::atomic<std::size_t>& counter, std::chrono::milliseconds quiet,
                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::size_t last = counter.load();
    auto changed = Clock::now();
    while (Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);  // polling a counter, with a deadline
        const std::size_t now = counter.load();
        if (now != last) {
            last = now;
            changed = Clock::now();
        } else if (Clock::now() - changed >= quiet) {
            break;
        }
    }
    return last;
}

}  // namespace

TEST_CASE("event server: a worker's whole answer") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::string body = pattern(200000, 9);
    REQUIRE(client.send(raw_post("/worker", body) + raw_get("/worker?second")));
    auto response = client.read();
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
    CHECK(response->header("X-Served-By") == "worker");
    CHECK(response->header("Content-Length") == "200000");
    CHECK(response->body == body);
    auto second = client.read();
    REQUIRE(second.has_value());
    CHECK(second->body == "served /worker?second");
    CHECK(fixture.handler.worker_jobs.load() == 2);
}

TEST_CASE("event server: a streamed answer is chunked to HTTP/1.1 and keeps the connection") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    for (const auto& [n, piece] :
         {std::pair<std::size_t, std::size_t>{0, 1}, {1, 1}, {100000, 333}, {5 << 20, 64 << 10}}) {
        CAPTURE(n);
        const std::string target =
            "/stream?n=" + std::to_string(n) + "&piece=" + std::to_string(piece);
        const Expected next = mix(0);
        REQUIRE(client.send(raw_get(target) + next.bytes));
        auto response = client.read(false, 30s);
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->header("Transfer-Encoding") == "chunked");
        CHECK_FALSE(response->has("Content-Length"));
        CHECK(response->body == pattern(n, 5));
        check_answer(client.read(), next);
    }
    CHECK(fixture.handler.stream_failed.load() == 0);
}

TEST_CASE("event server: a streamed answer to a slow reader keeps the worker bounded") {
    ServerFixture fixture;  // write_timeout 5 s
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    client.small_receive_buffer(16 << 10);
    const std::size_t total = 32 << 20;
    REQUIRE(client.send(raw_get("/stream?n=" + std::to_string(total) + "&piece=16384")));
    // Not reading: the worker blocks once the socket and the channel's queue are full.
    REQUIRE(wait_until([&] { return fixture.handler.stream_written.load() > 0; }, 5s));
    const std::size_t ahead = settle(fixture.handler.stream_written, 300ms, 4s);
    CAPTURE(ahead);
    // The queue (256 KiB) plus what the kernels buffer: far below the 32 MiB of the body.
    CHECK(ahead < std::size_t{8} << 20);
    CHECK(fixture.handler.stream_done.load() == 0);
    client.small_receive_buffer(4 << 20);  // now a fast reader
    // Reading it all now, every byte arrives in order.
    auto response = client.read(false, 60s);
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
    REQUIRE(response->body.size() == total);
    CHECK(response->body == pattern(total, 5));
    CHECK(wait_until([&] { return fixture.handler.stream_done.load() == 1; }, 5s));
    CHECK(fixture.handler.stream_failed.load() == 0);
}

TEST_CASE("event server: a client gone mid-stream stops the worker's writes") {
    ServerFixture fixture;  // write_timeout 5 s: stopping must come from the close, sooner
    for (bool hard : {false, true}) {
        CAPTURE(hard);
        const int failed = fixture.handler.stream_failed.load();
        const int done = fixture.handler.stream_done.load();
        {
            RawClient client(fixture.port);
            REQUIRE(client.connected());
            client.small_receive_buffer(16 << 10);
            REQUIRE(client.send(raw_get("/stream?n=268435456&piece=16384")));
            REQUIRE(wait_until([&] { return fixture.handler.stream_written.load() > 0; }, 5s));
            if (hard)
                client.reset();
            else
                client.close();
        }
        const auto gone = Clock::now();
        CHECK(wait_until([&] { return fixture.handler.stream_done.load() == done + 1; }, 4s));
        CHECK(Clock::now() - gone < 4s);
        CHECK(fixture.handler.stream_failed.load() == failed + 1);
        const std::size_t written = fixture.handler.stream_written.load();
        CHECK(written < std::size_t{256} << 20);
        // And nothing more after the failure.
        CHECK(settle(fixture.handler.stream_written, 100ms, 1s) == written);
        fixture.handler.stream_written = 0;
    }
    // The server still serves.
    RawClient next(fixture.port);
    REQUIRE(next.connected());
    const Expected expected = mix(2);
    REQUIRE(next.send(expected.bytes));
    check_answer(next.read(), expected);
}

TEST_CASE("event server: a reader that stalls for write_timeout stops the stream") {
    ServerOptions options = test_options();
    options.write_timeout = 300ms;
    ServerFixture fixture(options);
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::size_t total = 256 << 20;
    REQUIRE(client.send(raw_get("/stream?n=" + std::to_string(total) + "&piece=16384")));
    // Not reading: within write_timeout (and the 250 ms sweep) the worker's write fails.
    CHECK(wait_until([&] { return fixture.handler.stream_done.load() == 1; }, 5s));
    CHECK(fixture.handler.stream_failed.load() == 1);
    CHECK(fixture.handler.stream_written.load() < total);
}

// The stream above was cut short: what the client then reads must not look like a whole
// answer. A chunked body ended by its last chunk says "this is all of it"; a truncated body
// must end with the connection instead, so the client knows it is incomplete.
TEST_CASE("event server: a stream cut short by a stalled reader does not end like a whole one") {
    ServerOptions options = test_options();
    options.write_timeout = 300ms;
    ServerFixture fixture(options);
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::size_t total = 256 << 20;
    REQUIRE(client.send(raw_get("/stream?n=" + std::to_string(total) + "&piece=16384")));
    REQUIRE(wait_until([&] { return fixture.handler.stream_failed.load() == 1; }, 5s));
    // Now read what the server sends.
    auto response = client.read(false, 20s);
    if (response) {
        CAPTURE(response->body.size());
        CHECK(response->body.size() == total);  // a complete chunked answer must be whole
    } else {
        // Incomplete: the connection ended, wherever in a chunk the cut fell.
        CHECK(client.ended());
    }
}
