// The front door's strict request-head parser (RFC 9112): what it accepts, what it refuses
// and with which status, and where it stops reading.
#include "http/request_head.h"

#include <doctest/doctest.h>
#include <strings.h>

#include <string>
#include <string_view>
#include <vector>

using namespace faas::gateway;
using namespace std::string_literals;

namespace {

HeadStatus parse(std::string_view bytes, RequestHead& head, const HeadLimits& limits = {}) {
    Refusal refusal;
    return parse_request_head(bytes, limits, head, refusal);
}

HeadStatus parse(std::string_view bytes, const HeadLimits& limits = {}) {
    RequestHead head;
    return parse(bytes, head, limits);
}

// The status a refused head is answered with; 0 when it was not refused.
int refused(std::string_view bytes, const HeadLimits& limits = {}) {
    RequestHead head;
    Refusal refusal;
    if (parse_request_head(bytes, limits, head, refusal) != HeadStatus::kRefused) return 0;
    CHECK_FALSE(refusal.reason.empty());
    return refusal.status;
}

// A request line and `fields` (each "Name: value"), then the blank line. An HTTP/1.1 request
// without a Host field gets "Host: h" last, since HTTP/1.1 requires one.
std::string request(std::string_view line, std::initializer_list<std::string_view> fields) {
    std::string text(line);
    text += "\r\n";
    bool host = false;
    for (auto field : fields) {
        text += field;
        text += "\r\n";
        if (field.size() >= 5 && ::strncasecmp(field.data(), "Host:", 5) == 0) host = true;
    }
    if (!host && line.ends_with("HTTP/1.1")) text += "Host: h\r\n";
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
    REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", head) == HeadStatus::kComplete);
    CHECK(head.target == "/");
    CHECK(head.minor_version == 0);
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
    // Longer numbers are refused rather than risk an overflow.
    CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 1000000000000000000"})) == 400);
    CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 99999999999999999999999"})) == 400);
    // Leading zeros are still one decimal number.
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 007"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.content_length == 7);
    CHECK(head.framing == BodyFraming::kLength);
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
    CHECK(head.framing == BodyFraming::kNone);
    CHECK(head.headers.size() == 1);
    CHECK(head.header("A").empty());
}

TEST_CASE("request head: framing by length, chunked or none") {
    RequestHead head;
    REQUIRE(parse(request("GET / HTTP/1.1", {}), head) == HeadStatus::kComplete);
    CHECK(head.framing == BodyFraming::kNone);
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 0"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.framing == BodyFraming::kNone);
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 12"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.framing == BodyFraming::kLength);
    CHECK(head.content_length == 12);
    // The same length twice is one length (RFC 9112 6.3).
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 3", "content-length: 3"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.framing == BodyFraming::kLength);
    CHECK(head.content_length == 3);
    for (const char* value : {"chunked", "Chunked", "CHUNKED", " chunked\t"}) {
        CAPTURE(value);
        REQUIRE(parse(request("POST / HTTP/1.1", {std::string("Transfer-Encoding:") + value}),
                      head) == HeadStatus::kComplete);
        CHECK(head.framing == BodyFraming::kChunked);
        CHECK(head.content_length == 0);
    }
}

TEST_CASE("request head: ambiguous framing is refused with 400") {
    SUBCASE("two Content-Length fields with different values, in either order") {
        CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 5", "Content-Length: 52"})) ==
              400);
        CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 52", "Content-Length: 5"})) ==
              400);
        CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 0", "Content-Length: 00"})) ==
              0);  // the same number
        CHECK(refused(request("POST / HTTP/1.1", {"Content-Length: 3", "Content-Length: 3",
                                                  "Content-Length: 4"})) == 400);
    }
    SUBCASE("a listed, signed, empty or non-decimal Content-Length") {
        for (const char* value : {"5, 52", "5,5", "3,3", "+5", "-1", "", "abc", "1 2", "0x10",
                                  "1.0", "12a", "5;", "\"5\""}) {
            CAPTURE(value);
            CHECK(refused(request("POST / HTTP/1.1", {std::string("Content-Length: ") + value})) ==
                  400);
        }
    }
    SUBCASE("Transfer-Encoding other than exactly chunked") {
        for (const char* value : {"xchunked", "chunked, identity", "identity", "gzip, chunked",
                                  "chunked,chunked", "chunkedx", "", "chunked;q=1"}) {
            CAPTURE(value);
            CHECK(refused(request("POST / HTTP/1.1",
                                  {std::string("Transfer-Encoding: ") + value})) == 400);
        }
    }
    SUBCASE("two Transfer-Encoding fields, even both chunked") {
        CHECK(refused(request("POST / HTTP/1.1", {"Transfer-Encoding: chunked",
                                                  "Transfer-Encoding: identity"})) == 400);
        CHECK(refused(request("POST / HTTP/1.1", {"Transfer-Encoding: chunked",
                                                  "transfer-encoding: chunked"})) == 400);
    }
    SUBCASE("Transfer-Encoding with a Content-Length, in either order") {
        CHECK(refused(request("POST / HTTP/1.1",
                              {"Content-Length: 3", "Transfer-Encoding: chunked"})) == 400);
        CHECK(refused(request("POST / HTTP/1.1",
                              {"Transfer-Encoding: chunked", "Content-Length: 3"})) == 400);
        CHECK(refused(request("POST / HTTP/1.1",
                              {"Transfer-Encoding: chunked", "Content-Length: 0"})) == 400);
    }
    SUBCASE("Transfer-Encoding in HTTP/1.0") {
        CHECK(refused(request("POST / HTTP/1.0", {"Transfer-Encoding: chunked"})) == 400);
    }
    SUBCASE("a blank before the colon") {
        for (const char* field : {"Content-Length : 5", "Content-Length\t: 5",
                                  "Transfer-Encoding : chunked", "Host : x", "X-Any : y"}) {
            CAPTURE(field);
            CHECK(refused(request("POST / HTTP/1.1", {"Host: h", field})) == 400);
        }
    }
    SUBCASE("obs-fold: a line starting with a space or tab") {
        CHECK(refused(request("GET / HTTP/1.1", {"X-A: one", " two"})) == 400);
        CHECK(refused(request("GET / HTTP/1.1", {"X-A: one", "\ttwo"})) == 400);
        CHECK(refused(request("GET / HTTP/1.1", {"X-A: one", " Content-Length: 5"})) == 400);
    }
    SUBCASE("bare LF line ends, anywhere") {
        CHECK(refused("GET / HTTP/1.1\n\n") == 400);
        CHECK(refused("GET / HTTP/1.1\nHost: a\n\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\r\n\n") == 400);
    }
    SUBCASE("a bare CR") {
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n") == 400);
    }
    SUBCASE("NUL and other control characters in a value") {
        for (const std::string& field : {"X: a\x01z"s, "X: a\x1fz"s, "X: a\x7fz"s, "X: \x0b"s,
                                         "X: a\0z"s, "X: \0"s, "Host: a\0b"s}) {
            CAPTURE(field);
            CHECK(refused(request("GET / HTTP/1.1", {"Host: h", field})) == 400);
        }
    }
    SUBCASE("header names that are not tokens") {
        for (const char* field : {"Bad Name: x", "Bad\"Name: x", "Bad(Name): x", "Bad/Name: x",
                                  "Bad@Name: x", ": empty name", "NoColon", "Bad\x01Name: x",
                                  "B\xc3\xa4"
                                  "d: x"}) {
            CAPTURE(field);
            CHECK(refused(request("GET / HTTP/1.1", {field})) == 400);
        }
    }
    SUBCASE("Host missing or doubled") {
        CHECK(refused("GET / HTTP/1.1\r\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
        CHECK(refused("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400);
        // HTTP/1.0 needs none, but two are still two.
        CHECK(refused("GET / HTTP/1.0\r\n\r\n") == 0);
        CHECK(refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
        // An empty Host is a Host (RFC 9110 7.2 allows it when the target has no authority).
        CHECK(refused("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 0);
    }
}

TEST_CASE("request head: request lines that are refused") {
    SUBCASE("methods that are not tokens") {
        for (const char* line :
             {"G(T / HTTP/1.1", "G\"T / HTTP/1.1", "G,T / HTTP/1.1", "G\x01T / HTTP/1.1",
              " GET / HTTP/1.1", "\tGET / HTTP/1.1", "G\xc3\x89T / HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(refused(request(line, {})) == 400);
        }
    }
    SUBCASE("targets not in origin form") {
        for (const char* line : {"GET * HTTP/1.1", "GET http://example.com/ HTTP/1.1",
                                 "CONNECT example.com:443 HTTP/1.1", "GET ?x=1 HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(refused(request(line, {})) == 400);
        }
    }
    SUBCASE("targets with blanks, control characters or non-ASCII bytes") {
        for (const char* line :
             {"GET /a b HTTP/1.1", "GET  /a HTTP/1.1", "GET /a  HTTP/1.1", "GET /a\tb HTTP/1.1",
              "GET /a\x01 HTTP/1.1", "GET /a\x7f HTTP/1.1", "GET /caf\xc3\xa9 HTTP/1.1"}) {
            CAPTURE(line);
            CHECK(refused(request(line, {})) == 400);
        }
    }
    SUBCASE("malformed versions are 400, other versions 505") {
        for (const char* line : {"GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/1", "GET /",
                                 "GET", "GET / HTTP/1.1 ", "GET / HTTP/a.b"}) {
            CAPTURE(line);
            CHECK(refused(request(line, {})) == 400);
        }
        for (const char* line :
             {"GET / HTTP/2.0", "GET / HTTP/0.9", "GET / HTTP/1.2", "PRI * HTTP/2.0"}) {
            CAPTURE(line);
            // PRI * is a malformed target before it is a version.
            CHECK(refused(request(line, {})) == (line[0] == 'P' ? 400 : 505));
        }
    }
    SUBCASE("an empty line before the request line") {
        CHECK(refused("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
}

TEST_CASE("request head: Expect") {
    RequestHead head;
    for (const char* value : {"100-continue", "100-Continue", " 100-CONTINUE "}) {
        CAPTURE(value);
        REQUIRE(
            parse(request("POST / HTTP/1.1", {"Content-Length: 3", std::string("Expect:") + value}),
                  head) == HeadStatus::kComplete);
        CHECK(head.expect_continue);
    }
    REQUIRE(parse(request("POST / HTTP/1.1", {"Content-Length: 3"}), head) ==
            HeadStatus::kComplete);
    CHECK_FALSE(head.expect_continue);
    for (const char* value : {"200-ok", "100-continue, x", "", "100-continuex"}) {
        CAPTURE(value);
        CHECK(refused(request("POST / HTTP/1.1",
                              {"Content-Length: 3", std::string("Expect: ") + value})) == 417);
    }
}

TEST_CASE("request head: HTTP/1.0 closes unless it asks for keep-alive") {
    RequestHead head;
    REQUIRE(parse(request("GET / HTTP/1.0", {}), head) == HeadStatus::kComplete);
    CHECK(head.minor_version == 0);
    CHECK_FALSE(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.0", {"Connection: keep-alive"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.0", {"Connection: Keep-Alive"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.keep_alive);
    REQUIRE(parse(request("GET / HTTP/1.0", {"Connection: keep-alive, close"}), head) ==
            HeadStatus::kComplete);
    CHECK_FALSE(head.keep_alive);
    REQUIRE(parse(request("POST / HTTP/1.0", {"Content-Length: 4"}), head) ==
            HeadStatus::kComplete);
    CHECK(head.framing == BodyFraming::kLength);
    CHECK(head.content_length == 4);
    // A reused head does not keep 1.0 from before.
    REQUIRE(parse(request("GET / HTTP/1.1", {}), head) == HeadStatus::kComplete);
    CHECK(head.minor_version == 1);
    CHECK(head.keep_alive);
}

TEST_CASE("request head: every strict prefix of a valid head is incomplete") {
    const std::vector<std::string> heads = {
        request("GET / HTTP/1.1", {}),
        request("GET / HTTP/1.0", {}),
        request("POST /function/echo HTTP/1.1",
                {"Host: gateway", "Transfer-Encoding: chunked", "Expect: 100-continue"}),
        request("POST /function/echo HTTP/1.0", {"Connection: keep-alive", "Content-Length: 10"}),
        request("GET /a?b=c HTTP/1.1", {"Host: h", "X-Blank:   ", "X-Tab:\tv\t", "Obs: \xff"}),
    };
    for (const std::string& text : heads) {
        CAPTURE(text);
        RequestHead head;
        for (std::size_t cut = 0; cut < text.size(); ++cut) {
            CAPTURE(cut);
            CHECK(parse(std::string_view(text).substr(0, cut), head) == HeadStatus::kIncomplete);
        }
        REQUIRE(parse(text, head) == HeadStatus::kComplete);
        CHECK(head.head_bytes == text.size());
    }
}

TEST_CASE("request head: a conflict is refused as soon as its line is complete") {
    // Without the blank line: no need to wait for the rest of the head.
    CHECK(refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 52\r\n") == 400);
    CHECK(refused("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n") == 400);
    CHECK(refused("POST / HTTP/1.1\r\nExpect: nope\r\n") == 417);
    CHECK(refused("GET / HTTP/2.0\r\n") == 505);
    // And every longer input is refused the same way.
    const std::string text = "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 52\r\n";
    CHECK(refused(text + "Host: h\r\n\r\nhello") == 400);
}

TEST_CASE("request head: 100 header fields are served, 101 are 431") {
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 1; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    RequestHead head;
    REQUIRE(parse(many + "\r\n", head) == HeadStatus::kComplete);
    CHECK(head.headers.size() == 100);
    CHECK(refused(many + "X-100: v\r\n\r\n") == 431);
    // The limit is a setting.
    const HeadLimits five{64 << 10, 8 << 10, 5};
    std::string text = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 1; i < 5; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
    REQUIRE(parse(text + "\r\n", head, five) == HeadStatus::kComplete);
    CHECK(head.headers.size() == 5);
    CHECK(refused(text + "X-5: v\r\n\r\n", five) == 431);
}

TEST_CASE("request head: a request line of 8 KiB is served, one byte more is 414") {
    const std::string prefix = "GET /";
    const std::string suffix = " HTTP/1.1";
    const std::string exact_line =
        prefix + std::string((8 << 10) - prefix.size() - suffix.size(), 'a') + suffix;
    REQUIRE(exact_line.size() == 8 << 10);
    const std::string exact = exact_line + "\r\nHost: h\r\n\r\n";
    RequestHead head;
    REQUIRE(parse(exact, head) == HeadStatus::kComplete);
    CHECK(head.target.size() == (8 << 10) - prefix.size() - suffix.size() + 1);

    const std::string over_line =
        prefix + std::string((8 << 10) + 1 - prefix.size() - suffix.size(), 'a') + suffix;
    REQUIRE(over_line.size() == (8 << 10) + 1);
    CHECK(refused(over_line + "\r\nHost: h\r\n\r\n") == 414);
    // Without its end, as soon as more than the limit (and its CRLF) has arrived.
    const std::string endless = "GET /" + std::string(9 << 10, 'a');
    CHECK(parse(std::string_view(endless).substr(0, (8 << 10) + 2)) == HeadStatus::kIncomplete);
    CHECK(refused(std::string_view(endless).substr(0, (8 << 10) + 3)) == 414);
    CHECK(refused(endless) == 414);
}

TEST_CASE("request head: a head over 64 KiB is 431") {
    SUBCASE("one long field, still open") {
        CHECK(refused("GET / HTTP/1.1\r\nX-Big: " + std::string(70 << 10, 'v')) == 431);
    }
    SUBCASE("a complete head past the limit") {
        CHECK(refused(request("GET / HTTP/1.1", {"X-Big: " + std::string(70 << 10, 'v')})) == 431);
    }
    SUBCASE("many fields without the blank line") {
        std::string text = "GET / HTTP/1.1\r\nHost: h\r\n";
        for (int i = 0; text.size() <= (64 << 10); ++i)
            text += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
        CHECK(refused(text, HeadLimits{64 << 10, 8 << 10, 1000}) == 431);
    }
    SUBCASE("the boundary: exactly max_head_bytes is complete, one more is 431") {
        const std::string base = request("GET / HTTP/1.1", {"X: "});
        const std::size_t limit = base.size() + 10;
        const HeadLimits limits{limit, 8 << 10, 100};
        const std::string exact = request("GET / HTTP/1.1", {"X: " + std::string(10, 'v')});
        REQUIRE(exact.size() == limit);
        RequestHead head;
        CHECK(parse(exact, head, limits) == HeadStatus::kComplete);
        CHECK(head.head_bytes == limit);
        // A body after it does not count against the head.
        CHECK(parse(exact + std::string(100, 'b'), head, limits) == HeadStatus::kComplete);
        const std::string over = request("GET / HTTP/1.1", {"X: " + std::string(11, 'v')});
        CHECK(refused(over, limits) == 431);
        CHECK(parse(std::string_view(over).substr(0, limit), limits) == HeadStatus::kIncomplete);
        CHECK(refused(std::string_view(over).substr(0, limit + 1), limits) == 431);
    }
}
