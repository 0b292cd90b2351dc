// The event server's timeouts: read_timeout bounds a whole request (head and body, however
// slowly it trickles in), keep_alive_timeout an idle connection, write_timeout a client that
// does not read; and a client gone while its answer is being made.
#include <doctest/doctest.h>
#include <sys/time.h>

#include "event_server_fixture.h"

using namespace faas::test;
using Clock = std::chrono::steady_clock;

TEST_CASE("event server: idle and slow clients are closed after their timeouts") {
    ServerFixture fixture(short_timeouts());  // read and keep-alive: 300 ms
    SUBCASE("connected, nothing sent") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const auto start = Clock::now();
        CHECK(client.closed_by_server(5s));
        CHECK(Clock::now() - start >= 250ms);
    }
    SUBCASE("half a head: closed, and no answer") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("GET /now HTTP/1.1\r\nHost: te"));
        CHECK(client.closed_by_server(5s));
    }
    SUBCASE("half a body by length") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf"));
        CHECK(client.closed_by_server(5s));
    }
    SUBCASE("half a chunked body") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
        CHECK(client.closed_by_server(5s));
    }
    SUBCASE("idle after an answer: keep_alive_timeout") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const Expected expected = mix(0);
        REQUIRE(client.send(expected.bytes));
        check_answer(client.read(), expected);
        const auto start = Clock::now();
        CHECK(client.closed_by_server(5s));
        CHECK(Clock::now() - start >= 250ms);
    }
    SUBCASE("idle after a worker's answer: keep_alive_timeout") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const Expected expected = mix(2);
        REQUIRE(client.send(expected.bytes));
        check_answer(client.read(), expected);
        CHECK(client.closed_by_server(5s));
    }
    CHECK(fixture.handler.served.load() <= 1);
}

TEST_CASE("event server: read_timeout bounds the whole request, not each read") {
    ServerFixture fixture(short_timeouts());
    SUBCASE("a head trickled a byte at a time") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const std::string head =
            "GET /now HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n\r\n";
        // A byte every 40 ms: each gap far below read_timeout (300 ms), the whole far above.
        bool cut_off = false;
        for (std::size_t i = 0; i < head.size() && !cut_off; ++i) {
            cut_off = !client.send(head.substr(i, 1));
            std::this_thread::sleep_for(40ms);  // pacing, the point of the test
        }
        CHECK((cut_off || client.closed_by_server(2s)));
    }
    SUBCASE("a body trickled a byte at a time") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n"));
        bool cut_off = false;
        for (int i = 0; i < 40 && !cut_off; ++i) {
            cut_off = !client.send("x");
            std::this_thread::sleep_for(40ms);  // pacing, the point of the test
        }
        CHECK((cut_off || client.closed_by_server(2s)));
    }
    SUBCASE("a chunked body trickled a chunk at a time") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
        bool cut_off = false;
        for (int i = 0; i < 40 && !cut_off; ++i) {
            cut_off = !client.send("1\r\nx\r\n");
            std::this_thread::sleep_for(40ms);  // pacing, the point of the test
        }
        CHECK((cut_off || client.closed_by_server(2s)));
    }
    CHECK(fixture.handler.served.load() == 0);
}

TEST_CASE("event server: a client that keeps talking is not cut off") {
    ServerFixture fixture(short_timeouts());
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    // Ten requests 100 ms apart: a second in all, three times the timeouts.
    for (int i = 0; i < 10; ++i) {
        const Expected expected = mix(i);
        REQUIRE(client.send(expected.bytes));
        check_answer(client.read(), expected);
        std::this_thread::sleep_for(100ms);  // pacing, below the timeouts
    }
}

TEST_CASE("event server: a slow answer is not cut off by read_timeout") {
    ServerFixture fixture(short_timeouts());
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    // Answered after 600 ms, twice read_timeout: waiting for the handler is not the client's fault.
    REQUIRE(client.send(raw_get("/later?ms=600")));
    auto response = client.read(false, 5s);
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
}

TEST_CASE("event server: write_timeout ends a client that does not read a whole answer") {
    ServerOptions options = test_options();
    options.write_timeout = 300ms;
    ServerFixture fixture(options);
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    // Default buffers, so what the kernels hold drains fast once the server has closed (with
    // a tiny receive window it trickles out under zero-window probing instead).
    REQUIRE(client.send(raw_get("/big?n=" + std::to_string(64 << 20))));
    // Never read: the server gives up after write_timeout and closes.
    RawClient probe(fixture.port);  // and keeps serving others meanwhile
    REQUIRE(probe.connected());
    const Expected expected = mix(0);
    REQUIRE(probe.send(expected.bytes));
    check_answer(probe.read(), expected);
    // Draining what was sent ends at the close, well short of 64 MiB.
    std::size_t received = 0;
    const auto deadline = Clock::now() + 10s;
    std::this_thread::sleep_for(2000ms);  // pacing: not reading for write_timeout and more
    timeval wait_at_most{2, 0};           // a server that never closes must not hang the test
    ::setsockopt(client.fd(), SOL_SOCKET, SO_RCVTIMEO, &wait_at_most, sizeof wait_at_most);
    char chunk[64 << 10];
    while (Clock::now() < deadline) {
        const ssize_t n = ::recv(client.fd(), chunk, sizeof chunk, 0);
        if (n <= 0) break;
        received += static_cast<std::size_t>(n);
    }
    CAPTURE(received);
    CHECK(Clock::now() < deadline);
    CHECK(received < std::size_t{64} << 20);
}

TEST_CASE("event server: a client that goes away while its answer is being made") {
    ServerFixture fixture;
    for (const std::string target : {"/later?ms=150", "/worker"}) {
        for (bool hard : {false, true}) {
            CAPTURE(target);
            CAPTURE(hard);
            const int served = fixture.handler.served.load();
            {
                RawClient client(fixture.port);
                REQUIRE(client.connected());
                REQUIRE(client.send(raw_get(target)));
                REQUIRE(wait_until([&] { return fixture.handler.served.load() > served; }, 5s));
                if (hard)
                    client.reset();
                else
                    client.close();
            }
            // The answer goes nowhere and nothing breaks: the next connection is served.
            RawClient next(fixture.port);
            REQUIRE(next.connected());
            const Expected expected = mix(3);
            REQUIRE(next.send(expected.bytes));
            check_answer(next.read(), expected);
        }
    }
    CHECK(wait_until([&] { return fixture.handler.answered_later.load() == 2; }, 5s));
}
