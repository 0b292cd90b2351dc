// Request bodies on the event server: by length and chunked, split across reads, larger than
// the read buffer; Expect: 100-continue; HTTP/1.0; bodies over max_body_bytes answered 413 at
// once, with a lingering close so the client reads the answer; refused heads.
#include <doctest/doctest.h>

#include <vector>

#include "event_server_fixture.h"

using namespace faas::test;

namespace {

std::string chunked_post(const std::string& target, std::string_view body, std::size_t piece,
                         const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n" + extra +
           "\r\n" + chunked(body, piece);
}

}  // namespace

TEST_CASE("event server: a body split across several writes") {
    ServerFixture fixture;
    const std::string body = pattern(30000, 7);
    for (const std::string& bytes : {raw_post("/echo", body), chunked_post("/echo", body, 1000)}) {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const std::size_t head_size = bytes.find("\r\n\r\n") + 4;
        std::size_t at = 0;
        for (std::size_t cut : {head_size - 3, head_size + 10, head_size + 4000, head_size + 4001,
                                head_size + 20000, bytes.size()}) {
            REQUIRE(client.send(bytes.substr(at, cut - at)));
            at = cut;
            std::this_thread::sleep_for(10ms);  // pacing, so each piece is a read of its own
        }
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->header("X-Request-Length") == "30000");
        CHECK(response->body == body);
        // The connection is still in step.
        const Expected next = mix(0);
        REQUIRE(client.send(next.bytes));
        check_answer(client.read(), next);
    }
}

TEST_CASE("event server: bodies larger than 1 MiB, by length and chunked") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::string body = pattern((3 << 20) + 17, 11);
    for (const std::string& bytes :
         {raw_post("/echo", body), chunked_post("/echo", body, 100000), raw_post("/worker", body),
          chunked_post("/echo", body, 1 << 20)}) {
        // Sent from a thread while this one reads: the echo may start before the upload ends.
        std::atomic<bool> sent{false};
        std::thread sender([&] { sent = client.send(bytes); });
        auto response = client.read(false, 30s);
        sender.join();
        CHECK(sent.load());
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body.size() == body.size());
        CHECK(response->body == body);
    }
    const Expected next = mix(0);
    REQUIRE(client.send(next.bytes));
    check_answer(client.read(), next);
}

TEST_CASE("event server: chunked bodies with extensions and trailers, then the next request") {
    ServerFixture fixture;
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    const std::string bytes =
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
    const Expected next = mix(3);
    REQUIRE(client.send(bytes + next.bytes));
    auto response = client.read();
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
    CHECK(response->body == "hello, world");
    check_answer(client.read(), next);
}

TEST_CASE("event server: a malformed chunked body is 400 and the end of the connection") {
    ServerFixture fixture;
    for (const std::string chunks : {"5\r\nhelloX\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n",
                                     "5 x\r\nhello\r\n0\r\n\r\n", "zz\r\n", "5\nhello\n0\n\n"}) {
        CAPTURE(chunks);
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const int served = fixture.handler.served.load();
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            chunks + raw_get("/smuggled")));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 400);
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
        CHECK(fixture.handler.served.load() == served);
    }
}

TEST_CASE("event server: Expect: 100-continue") {
    ServerOptions options = test_options();
    options.max_body_bytes = 1 << 20;
    ServerFixture fixture(options);
    const std::string expect = "Expect: 100-continue\r\n";

    SUBCASE("100 Continue when the body is not there yet, then the answer") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n" + expect +
                            "\r\n"));
        auto interim = client.read();
        REQUIRE(interim.has_value());
        CHECK(interim->status == 100);
        REQUIRE(client.send("body"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == "body");
        // And again on the same connection, chunked.
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n" +
                            expect + "\r\n"));
        interim = client.read();
        REQUIRE(interim.has_value());
        CHECK(interim->status == 100);
        REQUIRE(client.send(chunked("chunks", 2)));
        response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == "chunks");
    }
    SUBCASE("no 100 Continue when the body came with the head") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send(raw_post("/echo", "body", expect)));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == "body");
    }
    SUBCASE("over max_body_bytes: 413 at once, never 100") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                            std::to_string((1 << 20) + 1) + "\r\n" + expect + "\r\n"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
        CHECK(fixture.handler.served.load() == 0);
    }
    SUBCASE("HTTP/1.0 gets no 100 Continue (RFC 9110 10.1.1)") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.0\r\nContent-Length: 4\r\n" + expect + "\r\n"));
        CHECK(client.silent_for(200ms));
        REQUIRE(client.send("body"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == "body");
    }
}

TEST_CASE("event server: HTTP/1.0 closes unless it asks for keep-alive") {
    ServerFixture fixture;
    {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == "hello");
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
    }
    {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        for (int i = 0; i < 3; ++i) {
            REQUIRE(client.send("GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
            auto response = client.read();
            REQUIRE(response.has_value());
            CHECK(response->status == 200);
            CHECK(response->header("Connection") == "keep-alive");
            CHECK(response->body == "served /now");
        }
    }
    {  // a streamed answer to HTTP/1.0 is delimited by the close
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send(
            "GET /stream?n=100000&piece=1000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK_FALSE(response->has("Transfer-Encoding"));
        CHECK(response->header("Connection") == "close");
        CHECK(response->body == pattern(100000, 5));
    }
    {  // the end of the stream arrives after its last data has gone out: still the close
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("GET /stream?n=1000&piece=1000&end_ms=200 HTTP/1.0\r\n\r\n"));
        auto response = client.read(false, 5s);
        REQUIRE(response.has_value());
        CHECK(response->body == pattern(1000, 5));
    }
}

TEST_CASE("event server: a body over max_body_bytes is answered 413 before it is read") {
    ServerOptions options = test_options();
    options.max_body_bytes = 1 << 20;
    ServerFixture fixture(options);

    SUBCASE("at the bound it is served") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const std::string body = pattern(1 << 20, 2);
        std::thread sender([&] { client.send(raw_post("/echo", body)); });
        auto response = client.read(false, 20s);
        sender.join();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == body);
    }
    SUBCASE("by length: the client still sending 20 MiB reads the 413 (lingering close)") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const std::string body(20 << 20, 'x');
        std::atomic<bool> sent{false};
        std::thread sender([&] { sent = client.send(raw_post("/echo", body)); });
        auto response = client.read(false, 20s);
        sender.join();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(response->header("Connection") == "close");
        CHECK(sent.load());  // drained, not reset
        CHECK(client.closed_by_server());
        CHECK(fixture.handler.served.load() == 0);
    }
    SUBCASE("chunked: 413 once the decoded body passes the bound") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        const std::string body((2 << 20), 'c');
        std::thread sender([&] { client.send(chunked_post("/echo", body, 64 << 10)); });
        auto response = client.read(false, 20s);
        sender.join();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(client.closed_by_server());
        CHECK(fixture.handler.served.load() == 0);
    }
}

TEST_CASE("event server: lingering after an early answer is bounded in bytes and time") {
    ServerOptions options = test_options();
    options.max_body_bytes = 1000;
    options.linger_bytes = 1 << 20;
    options.linger_timeout = 500ms;
    ServerFixture fixture(options);
    SUBCASE("bytes: a client sending more than linger_bytes is cut off") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        // Keep sending: the server drops the connection after about 1 MiB.
        const std::string block(64 << 10, 'x');
        bool cut_off = false;
        for (int i = 0; i < 1000 && !cut_off; ++i) cut_off = !client.send(block);
        CHECK(cut_off);
    }
    SUBCASE("time: a client that neither sends nor closes is cut off after linger_timeout") {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
        auto response = client.read();
        REQUIRE(response.has_value());
        CHECK(response->status == 413);
        CHECK(client.closed_by_server(3s));
    }
}

TEST_CASE("event server: refused heads are answered and the connection ends, unserved") {
    ServerFixture fixture;
    struct Probe {
        const char* name;
        std::string bytes;
        int status;
    };
    const std::string smuggled = raw_get("/smuggled");
    const std::vector<Probe> probes = {
        {"two lengths",
         "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 52\r\n\r\nhello" +
             smuggled,
         400},
        {"length and chunked",
         "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n" +
             smuggled,
         400},
        {"no Host", "GET /now HTTP/1.1\r\n\r\n" + smuggled, 400},
        {"HTTP/2.0", "GET /now HTTP/2.0\r\nHost: t\r\n\r\n" + smuggled, 505},
        {"Expect: nope", "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: nope\r\n\r\n" + smuggled, 417},
        {"a long request line", "GET /" + std::string(9 << 10, 'a') + " HTTP/1.1\r\n\r\n", 414},
        {"a head over 64 KiB", "GET /now HTTP/1.1\r\nX-Big: " + std::string(70 << 10, 'v'), 431},
        {"bare LF", "GET /now HTTP/1.1\nHost: t\n\n" + smuggled, 400},
    };
    for (const Probe& probe : probes) {
        CAPTURE(probe.name);
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        REQUIRE(client.send(probe.bytes));
        auto response = client.read(false, 2s);
        REQUIRE(response.has_value());
        CHECK(response->status == probe.status);
        CHECK(response->header("Connection") == "close");
        CHECK(client.closed_by_server());
    }
    // A request after a good one on a connection, refused: the good one is answered, then 400.
    RawClient client(fixture.port);
    REQUIRE(client.connected());
    REQUIRE(client.send(raw_get("/first") + "GET /now HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" +
                        smuggled));
    auto first = client.read();
    REQUIRE(first.has_value());
    CHECK(first->body == "served /first");
    auto refused = client.read();
    REQUIRE(refused.has_value());
    CHECK(refused->status == 400);
    CHECK(client.closed_by_server());
    CHECK(fixture.handler.served.load() == 1);
}

TEST_CASE("event server: request bodies are paid from the memory budget as they arrive") {
    faas::MemoryBudget budget(4 << 20);
    ServerFixture fixture(test_options(), &budget);
    // A client that declares 3 MiB and sends nothing holds none of the budget...
    RawClient idle(fixture.port);
    REQUIRE(idle.connected());
    REQUIRE(idle.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3145728\r\n\r\n"));
    // ...so a 2 MiB upload that does arrive is served, by length and chunked.
    const std::string body = pattern(2 << 20, 5);
    for (const std::string& bytes : {raw_post("/echo", body), chunked_post("/echo", body, 65536)}) {
        RawClient client(fixture.port);
        REQUIRE(client.connected());
        std::atomic<bool> sent{false};
        std::thread sender([&] { sent = client.send(bytes); });
        auto response = client.read(false, 30s);
        sender.join();
        REQUIRE(response.has_value());
        CHECK(response->status == 200);
        CHECK(response->body == body);
    }
    // Two 3 MiB uploads at once do not fit in 4 MiB: the one that outgrows the budget is 503
    // and closed, and what it held is given back.
    const std::string large = pattern(3 << 20, 9);
    RawClient first(fixture.port);
    RawClient second(fixture.port);
    REQUIRE(first.connected());
    REQUIRE(second.connected());
    const std::string head =
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(large.size()) +
        "\r\n\r\n";
    REQUIRE(first.send(head + large.substr(0, 2 << 20)));
    CHECK(wait_until([&] { return budget.in_use() >= (2u << 20); }, 5s));
    std::atomic<bool> sent{false};
    std::thread sender([&] { sent = second.send(head + large); });
    auto refused = second.read(false, 30s);
    sender.join();
    REQUIRE(refused.has_value());
    CHECK(refused->status == 503);
    REQUIRE(first.send(large.substr(2 << 20)));
    auto served = first.read(false, 30s);
    REQUIRE(served.has_value());
    CHECK(served->status == 200);
    CHECK(served->body == large);
    CHECK(wait_until([&] { return budget.in_use() == 0; }, 5s));
}
