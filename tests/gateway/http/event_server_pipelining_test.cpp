// The event server's connections: keep-alive, pipelining in order whatever answers first,
// HEAD/204/304 framing, Connection: close, the peer's address and loop, many connections at
// once, and stopping.
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "event_server_fixture.h"

using namespace faas::test;

TEST_CASE("event server: many sequential requests share one keep-alive connection") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    constexpr int kRequests = 100;
    for (int i = 0; i < kRequests; ++i) {
        CAPTURE(i);
        const Expected expected = mix(i);
        REQUIRE(client.send(expected.bytes));
        check_answer(client.read(), expected);
    }
    CHECK(fixture.handler.served.load() == kRequests);
    CHECK(fixture.handler.answered_later.load() == kRequests / 5);
    CHECK(fixture.handler.worker_jobs.load() == kRequests / 5);
    CHECK(client.unread().empty());
}

TEST_CASE("event server: pipelined requests in one write are answered in order") {
    ServerFixture fixture;
    // Each row: the mix() kinds sent together in a single write.
    const std::vector<std::vector<int>> batches = {
        {1, 0},        // a late answer, then an immediate one
        {2, 0},        // a worker's answer, then an immediate one
        {0, 2, 1},     // immediate, worker, later
        {3, 4, 3},     // bodies by length and chunked
        {4, 1, 2, 0},  // chunked, later, worker, immediate
        {0, 0, 0, 0},  // four at once
        {2, 2, 2},     // three workers
    };
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    int sequence = 0;
    for (const auto& batch : batches) {
        std::vector<Expected> expected;
        std::string bytes;
        for (int kind : batch) {
            expected.push_back(mix(kind + 5 * ++sequence));
            bytes += expected.back().bytes;
        }
        REQUIRE(client.send(bytes));
        for (const auto& one : expected) {
            CAPTURE(one.target);
            check_answer(client.read(), one);
        }
    }
    CHECK(client.unread().empty());
}

TEST_CASE("event server: a request delivered one byte at a time") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    for (const Expected& expected : {mix(3), mix(4), mix(0), mix(2)}) {
        CAPTURE(expected.target);
        for (char c : expected.bytes) {
            REQUIRE(client.send(std::string(1, c)));
            std::this_thread::sleep_for(100us);  // pacing, so each byte is a read of its own
        }
        check_answer(client.read(), expected);
    }
}

TEST_CASE("event server: HEAD answers carry no body") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    // Each HEAD answer is followed by a GET: a body sent by mistake would be read as its answer.
    for (const std::string target : {"/now", "/worker", "/stream?n=1000&piece=10"}) {
        CAPTURE(target);
        REQUIRE(client.send("HEAD " + target + " HTTP/1.1\r\nHost: t\r\n\r\n" + raw_get("/one")));
        auto head = client.read(true);
        REQUIRE(head.has_value());
        CHECK(head->status == 200);
        CHECK_FALSE(head->has("Content-Length"));
        CHECK_FALSE(head->has("Transfer-Encoding"));
        auto after = client.read();
        REQUIRE(after.has_value());
        CHECK(after->status == 200);
        CHECK(after->body == "served /one");
    }
    // A Content-Length of the handler's own is kept; the body still is not sent.
    REQUIRE(client.send("HEAD /head-length HTTP/1.1\r\nHost: t\r\n\r\n" + raw_get("/two")));
    auto head = client.read(true);
    REQUIRE(head.has_value());
    CHECK(head->header("Content-Length") == "5");
    auto after = client.read();
    REQUIRE(after.has_value());
    CHECK(after->body == "served /two");
}

TEST_CASE("event server: 204 and 304 answers have neither Content-Length nor body") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    for (const std::string target : {"/204", "/304"}) {
        CAPTURE(target);
        REQUIRE(client.send(raw_get(target) + raw_get("/next")));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == std::atoi(target.c_str() + 1));
        CHECK_FALSE(response->has("Content-Length"));
        CHECK_FALSE(response->has("Transfer-Encoding"));
        auto after = client.read();
        REQUIRE(after.has_value());
        CHECK(after->status == 200);
        CHECK(after->body == "served /next");
    }
}

TEST_CASE("event server: a large answer is written as the client reads it") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::size_t size = 16 << 20;  // far more than the socket buffers hold
    const Expected next = mix(0);
    REQUIRE(client.send(raw_get("/big?n=" + std::to_string(size)) + next.bytes));
    auto response = client.read(false, 30s);
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
    REQUIRE(response->body.size() == size);
    CHECK(response->body[0] == 'B');
    CHECK(response->body[997] == 'B');
    CHECK(response->body[998] == 'b');
    check_answer(client.read(), next);
}

TEST_CASE("event server: Connection close is answered with Connection close and then the end") {
    ServerFixture fixture;
    struct Case {
        const char* name;
        std::string bytes;
    };
    const std::vector<Case> cases = {
        {"asked by the client", raw_get("/now", "Connection: close\r\n")},
        {"answered later", raw_get("/later?ms=20", "Connection: keep-alive, close\r\n")},
        {"answered by a worker", raw_get("/worker", "Connection: close\r\n")},
        {"decided by the handler", raw_get("/close")},
        {"HTTP/1.0 without keep-alive", "GET /now HTTP/1.0\r\n\r\n"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const int served = fixture.handler.served.load();
        // A request pipelined after the close is not answered.
        REQUIRE(client.send(c.bytes + raw_get("/after")));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
        CHECK(fixture.handler.served.load() == served + 1);
    }
}

TEST_CASE("event server: the handler sees the peer address and its loop") {
    ServerFixture fixture;
    std::set<std::string> loops_seen;
    for (int i = 0; i < 64; ++i) {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send(raw_get("/info")));
        auto response = client.read();
        REQUIRE(response.has_value());
        const auto space = response->body.find(' ');
        REQUIRE(space != std::string::npos);
        CHECK(response->body.substr(0, space) == "127.0.0.1");
        const std::string loop = response->body.substr(space + 1);
        CHECK((loop == "0" || loop == "1"));
        loops_seen.insert(loop);
    }
    // SO_REUSEPORT spreads connections over both loops (all 64 on one: odds of 2^-63).
    CHECK(loops_seen.size() == 2);
}

TEST_CASE("event server: 200 concurrent keep-alive connections with 20 requests each") {
    ServerFixture fixture;
    constexpr int kConnections = 200;
    constexpr int kRequests = 20;
    std::atomic<int> connected{0};
    std::atomic<int> answered{0};
    std::atomic<int> wrong{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> clients;
    clients.reserve(kConnections);
    for (int c = 0; c < kConnections; ++c) {
        clients.emplace_back([&, c] {
            RawClient client(fixture.port);
            if (!client.connected()) return;
            ++connected;
            // All connections open before any request: they really are concurrent.
            if (!wait_until([&] { return go.load(); }, 20s)) return;
            for (int r = 0; r < kRequests; ++r) {
                const Expected expected = mix(c * kRequests + r);
                if (!client.send(expected.bytes)) return;
                auto response = client.read(false, 20s);
                if (!response) return;
                if (response->status != 200 || response->body != expected.body ||
                    response->header("X-Target") != expected.target) {
                    ++wrong;
                    return;
                }
                ++answered;
            }
        });
    }
    const bool all_connected = wait_until([&] { return connected.load() == kConnections; }, 20s);
    go = true;
    for (auto& thread : clients) thread.join();
    CHECK(all_connected);
    CHECK(wrong.load() == 0);
    CHECK(answered.load() == kConnections * kRequests);
}

TEST_CASE("event server: stop() with idle and waiting connections returns promptly") {
    ServerFixture fixture;
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 20; ++i) {
        idle.push_back(std::make_unique<RawClient>(fixture.port));
        REQUIRE(idle.back()->connected());
        if (i % 2 == 0) {  // half of them after an answer, half never having asked anything
            const Expected expected = mix(i % 4 == 0 ? 0 : 2);
            REQUIRE(idle.back()->send(expected.bytes));
            check_answer(idle.back()->read(), expected);
        }
    }
    // One call still waiting for its answer, and one stream whose client does not read.
    RawClient waiting(fixture.port);
    REQUIRE(waiting.connected());
    REQUIRE(waiting.send(raw_get("/later?ms=60000")));
    RawClient stalled(fixture.port);
    REQUIRE(stalled.connected());
    stalled.small_receive_buffer(4096);
    REQUIRE(stalled.send(raw_get("/stream?n=67108864&piece=65536")));
    REQUIRE(wait_until([&] { return fixture.handler.served.load() == 12; }, 5s));
    REQUIRE(wait_until([&] { return fixture.handler.stream_written.load() > 0; }, 5s));

    const auto start = std::chrono::steady_clock::now();
    fixture.server.stop();
    CHECK(wait_until([&] { return fixture.returned.load(); }, 2s));
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    // The streaming worker learns of it and stops writing (before its write_timeout of 5 s).
    CHECK(wait_until([&] { return fixture.handler.stream_done.load() == 1; }, 3s));
    CHECK(fixture.handler.stream_failed.load() == 1);
}

TEST_CASE("event server: stop() before run() returns at once") {
    TestHandler handler;
    EventServer server(test_options(), handler);
    handler.attach(server);
    REQUIRE(server.bind("127.0.0.1", 0, 16) > 0);
    server.stop();
    std::atomic<bool> returned{false};
    std::thread thread([&] {
        server.run();
        returned = true;
    });
    const bool prompt = wait_until([&] { return returned.load(); }, 2s);
    if (!prompt) server.stop();
    thread.join();
    handler.stop();
    CHECK(prompt);
}

// run() ends every connection before it returns: a client idling on keep-alive learns at once
// that the server has stopped.
TEST_CASE("event server: after run() returns idle connections are closed") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const Expected expected = mix(0);
    REQUIRE(client.send(expected.bytes));
    check_answer(client.read(), expected);
    fixture.server.stop();
    REQUIRE(wait_until([&] { return fixture.returned.load(); }, 2s));
    CHECK(client.closed_by_server(2s));
}

TEST_CASE("event server: an empty line after a body, before the next request line, is skipped") {
    // RFC 9112 2.2: some clients send CRLF after a POST body. More than a few are refused.
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    REQUIRE(client.send(raw_post("/a", "hello") + "\r\n" + raw_get("/b")));
    for (int i = 0; i < 2; ++i) {
        const auto response = client.read();
        REQUIRE(response);
        CHECK(response->status == 200);
    }
    REQUIRE(client.send("\r\n\r\n\r\n\r\n\r\n" + raw_get("/c")));
    const auto refused = client.read();
    REQUIRE(refused);
    CHECK(refused->status == 400);
}
