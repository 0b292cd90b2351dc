// The event loop's strict request-head parser: what it serves itself, what it hands to
// cpp-httplib, and where it stops reading.
#include "request_head.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace faas::gateway;
using namespace std::string_literals;

namespace {

HeadStatus parse(std::string_view bytes, RequestHead& head, const HeadLimits& limits = {}) {
    return parse_request_head(bytes, limits, head);
}

HeadStatus parse(std::string_view bytes, const HeadLimits& limits = {}) {
    RequestHead head;
    return parse_request_head(bytes, limits, head);
}

// A request line and `fields` (each "Name: value"), then the blank line.
std::string request(std::string_view line, std::initializer_list<std::string_view> fields) {
    std::string text(line);
    text += "\r\n";
    for (auto field : fields) {
        text += field;
        text += "\r\n";
    }
    text += "\r\n";
    return text;
}

bool inside(std::string_view view, std::string_view buffer) {
    return view.data() >= buffer.data() &&
           view.data() + view.size() <= buffer.data() + buffer.size();
}

}  // namespace

TEST_CASE("request head: a simple GET is complete") {
    const std::string text = request("GET /function/echo?x=1 HTTP/1.1", {"Host: gateway"});
    RequestHead head;
    REQUIRE(parse(text, head) == HeadStatus::kComplete);
    CHECK(head.method == "GET");
    CHECK(head.target == "/function/echo?x=1");
    CHECK(head.head_bytes == text.size());
    CHECK(head.content_length == 0);
    CHECK(head.keep_alive);
    REQUIRE(head.headers.size() == 1);
    CHECK(head.headers[0].first == "Host");
    CHECK(head.headers[0].second == "gateway");
    CHECK(inside(head.method, text));
    CHECK(inside(head.target, text));
}

TEST_CASE("request head: a head without fields is complete") {
    RequestHead head;
    REQUIRE(parse("GET / HTTP/1.1\r\n\r\n", head) == HeadStatus::kComplete);
    CHECK(head.target == "/");
    CHECK(head.headers.empty());
    CHECK(head.head_bytes == 18);
}

TEST_CASE("request head: every strict prefix of a head is incomplete") {
    const std::string text =
        request("POST /function/echo HTTP/1.1", {"Host: gateway", "Content-Length: 5", "X-Empty:"});
    RequestHead head;
    for (std::size_t cut = 0; cut < text.size(); ++cut) {
        CAPTURE(cut);
        CHECK(parse(std::string_view(text).substr(0, cut), head) == HeadStatus::kIncomplete);
    }
    REQUIRE(parse(text, head) == HeadStatus::kComplete);
    CHECK(head.head_bytes == text.size());
    CHECK(head.content_length == 5);
}

TEST_CASE("request head: POST with a Content-Length and a body and a pipelined request after it") {
    const std::string head_text =
        request("POST /function/echo HTTP/1.1", {"Host: gateway", "Content-Length: 11"});
    const std::string text = head_text + "hello world" + "GET / HTTP/1.1\r\n\r\n";
    RequestHead head;
    REQUIRE(parse(text, head) == HeadStatus::kComplete);
    CHECK(head.method == "POST");
    CHECK(head.head_bytes == head_text.size());
    CHECK(head.content_length == 11);
    CHECK(text.substr(head.head_bytes, 11) == "hello world");
    CHECK(head.header("content-length") == "11");
}

TEST_CASE("request head: Content-Length values large and padded") {
    RequestHead head;
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: \t 42 \t"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.content_length == 42);
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 0"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.content_length == 0);
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 999999999999999999"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.content_length == 999999999999999999ULL);
    // Longer numbers are left to cpp-httplib rather than risk an overflow here.
    CHECK(parse(request("POST / HTTP/1.1", {"Content-Length: 1000000000000000000"})) ==
          HeadStatus::kHandOff);
}

TEST_CASE("request head: fields keep their order and case and values lose surrounding blanks") {
    const std::string text = request(
        "GET / HTTP/1.1", {"Host: a", "X-Mixed-CASE:\t value with  inner  blanks \t", "x-dup: 1",
                           "X-Dup: 2", "Empty:", "Blank-Only: \t ", "Obs-Text: caf\xc3\xa9"});
    RequestHead head;
    REQUIRE(parse(text, head) == HeadStatus::kComplete);
    REQUIRE(head.headers.size() == 7);
    CHECK(head.headers[0] == std::pair<std::string_view, std::string_view>("Host", "a"));
    CHECK(head.headers[1].first == "X-Mixed-CASE");
    CHECK(head.headers[1].second == "value with  inner  blanks");
    CHECK(head.headers[2].first == "x-dup");
    CHECK(head.headers[2].second == "1");
    CHECK(head.headers[3].first == "X-Dup");
    CHECK(head.headers[3].second == "2");
    CHECK(head.headers[4].first == "Empty");
    CHECK(head.headers[4].second.empty());
    CHECK(head.headers[5].second.empty());
    CHECK(head.headers[6].second == "caf\xc3\xa9");
    for (const auto& [name, value] : head.headers) {
        CHECK(inside(name, text));
        if (!value.empty()) CHECK(inside(value, text));
    }
}

TEST_CASE("request head: header() looks names up in any case and finds the first") {
    // The views point into the parsed text, which must outlive them.
    const std::string text =
        request("GET / HTTP/1.1", {"X-Dup: first", "x-dup: second", "Host: h"});
    RequestHead head;
    REQUIRE(parse(text, head) == HeadStatus::kComplete);
    CHECK(head.header("X-Dup") == "first");
    CHECK(head.header("x-DUP") == "first");
    CHECK(head.header("HOST") == "h");
    CHECK(head.header("host") == "h");
    CHECK(head.header("Missing").empty());
    CHECK(head.header("Hos").empty());
    CHECK(head.header("Host2").empty());
}

TEST_CASE("request head: Connection close ends keep-alive, other tokens do not") {
    RequestHead head;
    REQUIRE(parse(request("GET / HTTP/1.1", {"Connection: close"}), head) == HeadStatus::kComplete);
    CHECK_FALSE(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.1", {"Connection: keep-alive, close"}), head) ==
            HeadStatus::kComplete);
    CHECK_FALSE(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.1", {"connection: Upgrade ,\tCLOSE "}), head) ==
            HeadStatus::kComplete);
    CHECK_FALSE(head.keep_alive);

    REQUIRE(parse(request("GET / HTTP/1.1", {"Connection: keep-alive"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.1", {"Connection: closed, enclose"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.1", {"X-Connection: close"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.keep_alive);
}

TEST_CASE("request head: a reused RequestHead starts afresh") {
    const std::string first =
        request("POST /a HTTP/1.1", {"Connection: close", "Content-Length: 3", "A: b"});
    const std::string second = request("GET /b HTTP/1.1", {"Host: h"});
    RequestHead head;
    REQUIRE(parse(first, head) == HeadStatus::kComplete);
    REQUIRE(parse(second, head) == HeadStatus::kComplete);
    CHECK(head.target == "/b");
    CHECK(head.keep_alive);
    CHECK(head.content_length == 0);
    CHECK(head.headers.size() == 1);
    CHECK(head.header("A").empty());
}

TEST_CASE("request head: what the loop does not serve itself is handed off") {
    SUBCASE("HTTP/1.0") {
        CHECK(parse(request("GET / HTTP/1.0", {"Host: h"})) == HeadStatus::kHandOff);
    }
    SUBCASE("other versions and a missing version") {
        CHECK(parse(request("GET / HTTP/2.0", {})) == HeadStatus::kHandOff);
        CHECK(parse(request("GET / http/1.1", {})) == HeadStatus::kHandOff);
        CHECK(parse(request("GET /", {})) == HeadStatus::kHandOff);
        CHECK(parse(request("GET", {})) == HeadStatus::kHandOff);
    }
    SUBCASE("Transfer-Encoding") {
        CHECK(parse(request("POST / HTTP/1.1", {"Transfer-Encoding: chunked"})) ==
              HeadStatus::kHandOff);
        CHECK(parse(request("POST / HTTP/1.1", {"transfer-encoding: identity"})) ==
              HeadStatus::kHandOff);
        CHECK(parse(request("POST / HTTP/1.1",
                            {"Content-Length: 3", "Transfer-Encoding: chunked"})) ==
              HeadStatus::kHandOff);
    }
    SUBCASE("Expect") {
        CHECK(parse(request("POST / HTTP/1.1", {"Content-Length: 3", "Expect: 100-continue"})) ==
              HeadStatus::kHandOff);
        CHECK(parse(request("POST / HTTP/1.1", {"EXPECT: x"})) == HeadStatus::kHandOff);
    }
    SUBCASE("Upgrade") {
        CHECK(parse(request("GET / HTTP/1.1", {"Connection: Upgrade", "Upgrade: websocket"})) ==
              HeadStatus::kHandOff);
    }
    SUBCASE("two Content-Length fields, equal or not") {
        CHECK(parse(request("POST / HTTP/1.1", {"Content-Length: 3", "Content-Length: 3"})) ==
              HeadStatus::kHandOff);
        CHECK(parse(request("POST / HTTP/1.1", {"Content-Length: 3", "content-length: 4"})) ==
              HeadStatus::kHandOff);
    }
    SUBCASE("non-numeric, signed, empty or listed Content-Length") {
        for (const char* value : {"abc", "-1", "+1", "", "1 2", "0x10", "3,3", "1.0", "12a"}) {
            CAPTURE(value);
            CHECK(parse(request("POST / HTTP/1.1", {std::string("Content-Length: ") + value})) ==
                  HeadStatus::kHandOff);
        }
    }
    SUBCASE("obs-fold: a line starting with a space or tab") {
        CHECK(parse(request("GET / HTTP/1.1", {"X-A: one", " two"})) == HeadStatus::kHandOff);
        CHECK(parse(request("GET / HTTP/1.1", {"X-A: one", "\ttwo"})) == HeadStatus::kHandOff);
    }
    SUBCASE("a bare LF inside a CRLF-terminated field") {
        CHECK(parse("GET / HTTP/1.1\r\nHost: a\n\r\n") == HeadStatus::kHandOff);
        CHECK(parse("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n") == HeadStatus::kHandOff);
    }
    SUBCASE("a bare CR") {
        CHECK(parse("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == HeadStatus::kHandOff);
    }
    SUBCASE("header names that are not tokens") {
        for (const char* field :
             {"Bad Name: x", "Host : x", "Bad\"Name: x", "Bad(Name): x", "Bad/Name: x",
              "Bad@Name: x", ": empty name", "NoColon", "Bad\x01Name: x",
              "B\xc3\xa4"
              "d: x"}) {
            CAPTURE(field);
            CHECK(parse(request("GET / HTTP/1.1", {field})) == HeadStatus::kHandOff);
        }
    }
    SUBCASE("control characters in a value") {
        for (const std::string& field :
             {"X: a\x01z"s, "X: a\x1fz"s, "X: a\x7fz"s, "X: \x0b"s, "X: a\0z"s, "X: a\nz"s}) {
            CAPTURE(field);
            CHECK(parse(request("GET / HTTP/1.1", {field})) == HeadStatus::kHandOff);
        }
    }
    SUBCASE("methods that are not tokens") {
        for (const char* line :
             {"G(T / HTTP/1.1", "G\"T / HTTP/1.1", "G,T / HTTP/1.1", "G\x01T / HTTP/1.1",
              " GET / HTTP/1.1", "\tGET / HTTP/1.1", "G\xc3\x89T / HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(parse(request(line, {})) == HeadStatus::kHandOff);
        }
    }
    SUBCASE("targets that do not start with a slash") {
        for (const char* line : {"GET * HTTP/1.1", "GET http://example.com/ HTTP/1.1",
                                 "CONNECT example.com:443 HTTP/1.1", "GET ?x=1 HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(parse(request(line, {})) == HeadStatus::kHandOff);
        }
    }
    SUBCASE("targets with spaces, control characters or non-ASCII bytes") {
        for (const char* line :
             {"GET /a b HTTP/1.1", "GET  /a HTTP/1.1", "GET /a  HTTP/1.1", "GET /a\tb HTTP/1.1",
              "GET /a\x01 HTTP/1.1", "GET /a\x7f HTTP/1.1", "GET /caf\xc3\xa9 HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(parse(request(line, {})) == HeadStatus::kHandOff);
        }
    }
    SUBCASE("an empty line before the request line") {
        CHECK(parse("\r\nGET / HTTP/1.1\r\n\r\n") == HeadStatus::kHandOff);
    }
    SUBCASE("a decision is made as soon as the line that decides is complete") {
        CHECK(parse("GET / HTTP/1.0\r\n") == HeadStatus::kHandOff);
        CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n") == HeadStatus::kHandOff);
    }
}

TEST_CASE("request head: up to max_headers fields are served and one more is handed off") {
    const HeadLimits limits{64 << 10, 5};
    std::string text = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 5; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
    RequestHead head;
    REQUIRE(parse(text + "\r\n", head, limits) == HeadStatus::kComplete);
    CHECK(head.headers.size() == 5);
    CHECK(parse(text + "X-5: v\r\n\r\n", head, limits) == HeadStatus::kHandOff);

    // The default limit is 100.
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(parse(many + "\r\n") == HeadStatus::kComplete);
    CHECK(parse(many + "X-100: v\r\n\r\n") == HeadStatus::kHandOff);
}

TEST_CASE("request head: too large when no blank line comes within max_head_bytes") {
    SUBCASE("a long request line without its end") {
        const std::string line = "GET /" + std::string(70 << 10, 'a');
        CHECK(parse(line) == HeadStatus::kTooLarge);
        CHECK(parse(std::string_view(line).substr(0, 64 << 10)) == HeadStatus::kIncomplete);
    }
    SUBCASE("a long request line with its end") {
        CHECK(parse(request("GET /" + std::string(70 << 10, 'a') + " HTTP/1.1", {})) ==
              HeadStatus::kTooLarge);
    }
    SUBCASE("long fields without the blank line") {
        std::string text = "GET / HTTP/1.1\r\n";
        for (int i = 0; text.size() <= (64 << 10); ++i)
            text += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
        const HeadLimits limits{64 << 10, 1000};
        CHECK(parse(text, limits) == HeadStatus::kTooLarge);
    }
    SUBCASE("one long field, still open") {
        const std::string text = "GET / HTTP/1.1\r\nX-Big: " + std::string(70 << 10, 'v');
        CHECK(parse(text) == HeadStatus::kTooLarge);
    }
    SUBCASE("a complete head past the limit") {
        const std::string text =
            request("GET / HTTP/1.1", {"X-Big: " + std::string(70 << 10, 'v')});
        CHECK(parse(text) == HeadStatus::kTooLarge);
    }
    SUBCASE("the boundary: a head of exactly max_head_bytes is complete, one more is too large") {
        const std::string base = request("GET / HTTP/1.1", {"X: "});
        const std::size_t limit = base.size() + 10;
        const HeadLimits limits{limit, 100};
        const std::string exact = request("GET / HTTP/1.1", {"X: " + std::string(10, 'v')});
        REQUIRE(exact.size() == limit);
        RequestHead head;
        CHECK(parse(exact, head, limits) == HeadStatus::kComplete);
        CHECK(head.head_bytes == limit);
        // A body after it does not count against the head.
        CHECK(parse(exact + std::string(100, 'b'), head, limits) == HeadStatus::kComplete);
        const std::string over = request("GET / HTTP/1.1", {"X: " + std::string(11, 'v')});
        CHECK(parse(over, limits) == HeadStatus::kTooLarge);
        // Incomplete up to the limit, too large past it.
        CHECK(parse(std::string_view(over).substr(0, limit), limits) == HeadStatus::kIncomplete);
        CHECK(parse(std::string_view(over).substr(0, limit + 1), limits) == HeadStatus::kTooLarge);
    }
}

// Lines ended by a bare LF are handed off at once (cpp-httplib answers them), not waited on.
TEST_CASE("request head: bare LF line ends are handed off") {
    CHECK(parse("GET / HTTP/1.1\n\n") == HeadStatus::kHandOff);
    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n") == HeadStatus::kHandOff);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\n\n") == HeadStatus::kHandOff);
}

// Every line is measured with its CRLF: a request line ending exactly at the limit cannot fit,
// so it is kTooLarge however TCP split its bytes.
TEST_CASE("request head: a request line ending right at the limit") {
    const HeadLimits limits{64, 100};
    const std::string line = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.0";
    REQUIRE(line.size() == 64);
    const std::string text = line + "\r\n";
    CHECK(parse(std::string_view(text).substr(0, 65), limits) == HeadStatus::kTooLarge);
    CHECK(parse(text, limits) == HeadStatus::kTooLarge);
}
