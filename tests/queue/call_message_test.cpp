// The queued call's format: what goes in comes back out, and stored bytes that break a rule
// are refused with BadMessage.
#include "call_message.h"

#include <doctest/doctest.h>

#include <string>

using faas::queue::BadMessage;
using faas::queue::CallMessage;
using faas::queue::decode;
using faas::queue::encode;

namespace {

constexpr std::size_t kLimit = 1 << 20;

CallMessage sample() {
    CallMessage m;
    m.call_id = "8c0b3a4e-5f1d-4c2a-9b7e-0d1f2a3b4c5d";
    m.function = "wordcount.openfaas-fn";
    m.method = "POST";
    m.path = "/sub/path%20x";
    m.query = "a=1&b=%3F&a=2";
    m.headers = {{"Content-Type", "text/plain"},
                 {"X-Multi", "one"},
                 {"Accept", "*/*"},
                 {"X-Multi", "two"},
                 {"X-Unicode", "caf\xc3\xa9 \xe2\x82\xac\ttab"},
                 {"X-Empty", ""}};
    m.body = "hello";
    m.callback_url = "http://receiver:8080/done?x=1";
    m.queue = "slow-queue";
    m.enqueued_at = std::chrono::system_clock::time_point(
        std::chrono::nanoseconds(1796216886123456789LL));  // 2026-12-02T13:08:06.123456789Z
    m.keep_result = true;
    return m;
}

/// The head line of an encoded sample, with `from` replaced by `to` once.
std::string with_head_edit(const std::string& from, const std::string& to,
                           const CallMessage& m = sample()) {
    std::string bytes = encode(m);
    auto at = bytes.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    REQUIRE(at < bytes.find('\n'));
    return bytes.replace(at, from.size(), to);
}

void check_refused(const std::string& bytes, const std::string& reason_part,
                   std::size_t limit = kLimit) {
    try {
        decode(bytes, limit);
        FAIL("accepted: " << bytes.substr(0, 200));
    } catch (const BadMessage& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(reason_part) != std::string::npos, what);
        CHECK(what.find('\n') == std::string::npos);
    }
}

}  // namespace

TEST_CASE("a call message round-trips, repeated headers in order, binary body intact") {
    CallMessage m = sample();
    m.body = std::string("\0\x01\xff\n\r\n{\"v\":2}\n", 15);
    CallMessage back = decode(encode(m), kLimit);
    CHECK(back == m);
    CHECK(back.headers[1] == std::pair<std::string, std::string>{"X-Multi", "one"});
    CHECK(back.headers[3] == std::pair<std::string, std::string>{"X-Multi", "two"});
    CHECK(back.body.size() == 15);
    CHECK(back.enqueued_at == m.enqueued_at);
}

TEST_CASE("the format is one JSON head line, then the raw body") {
    CallMessage m = sample();
    m.body = "raw body";
    const std::string bytes = encode(m);
    const auto newline = bytes.find('\n');
    REQUIRE(newline != std::string::npos);
    CHECK(bytes.substr(newline + 1) == "raw body");
    CHECK(bytes.starts_with("{\"v\":1,\"id\":\"8c0b3a4e-5f1d-4c2a-9b7e-0d1f2a3b4c5d\""));
    CHECK(bytes.find("\"enqueued_at\":\"2026-12-02T13:08:06.123456789Z\"") < newline);
    CHECK(bytes.find("\"body_bytes\":8") < newline);
}

TEST_CASE("the minimal message: no callback, no headers, empty path, query and body") {
    CallMessage m = sample();
    m.callback_url.reset();
    m.headers.clear();
    m.path.clear();
    m.query.clear();
    m.body.clear();
    m.keep_result = false;
    const std::string bytes = encode(m);
    CHECK(bytes.find("callback_url") == std::string::npos);
    CHECK(decode(bytes, 0) == m);
}

TEST_CASE("a body over the caller's limit is refused, one at the limit is not") {
    CallMessage m = sample();
    m.body = std::string(1000, 'x');
    CHECK(decode(encode(m), 1000).body.size() == 1000);
    check_refused(encode(m), "over the limit of 999", 999);
}

TEST_CASE("bytes that are not a message are refused") {
    check_refused("", "no head line");
    check_refused("hello", "no head line");
    check_refused("not json\nbody", "not JSON");
    check_refused("[1,2]\n", "not a JSON object");
    check_refused("{\"v\":1e400}\n", "number JSON cannot hold");  // Found by libFuzzer.
    check_refused("{\"v\":1}\n", "has no \"id\"");
    check_refused(std::string(3 << 20, ' '), "longer than the format allows");
    // A truncated body (the head says how long it is).
    std::string bytes = encode(sample());
    check_refused(bytes.substr(0, bytes.size() - 1), "body_bytes");
    check_refused(bytes + "x", "body_bytes");
}

TEST_CASE("an ambiguous or unknown head is refused") {
    check_refused(with_head_edit("{\"v\":1,", "{\"v\":1,\"v\":1,"), "repeats the key \"v\"");
    check_refused(with_head_edit("\"queue\":", "\"queue\":\"other\",\"queue\":"),
                  "repeats the key \"queue\"");
    check_refused(with_head_edit("{\"v\":1,", "{\"v\":2,"), "unknown version");
    check_refused(with_head_edit("{\"v\":1,", "{\"v\":1.0,"), "unknown version");
    check_refused(with_head_edit("{\"v\":1,", "{\"v\":1,\"extra\":0,"), "unknown key \"extra\"");
    check_refused(with_head_edit("\"keep_result\":true", "\"keep_result\":\"true\""),
                  "keep_result");
    check_refused(with_head_edit("\"method\":\"POST\"", "\"method\":[\"POST\"]"),
                  "\"method\" is not a string");
    check_refused(with_head_edit("[\"Accept\",\"*/*\"]", "[\"Accept\"]"), "[name, value] pair");
    check_refused(with_head_edit("[\"Accept\",\"*/*\"]", "[\"Accept\",[[[[\"x\"]]]]]"),
                  "nests deeper");
    check_refused(with_head_edit("\"callback_url\":\"http://receiver:8080/done?x=1\"",
                                 "\"callback_url\":null"),
                  "\"callback_url\" is not a string");
}

TEST_CASE("fields that break a rule are refused") {
    check_refused(with_head_edit("\"id\":\"8c0b3a4e", "\"id\":\"8c0b.3a4e"), "call id");
    check_refused(with_head_edit("\"function\":\"wordcount", "\"function\":\"../wordcount"),
                  "function");
    check_refused(with_head_edit("\"method\":\"POST\"", "\"method\":\"PO ST\""), "method");
    check_refused(with_head_edit("\"path\":\"/sub", "\"path\":\"sub"), "path must be empty");
    check_refused(with_head_edit("\"path\":\"/sub", "\"path\":\"/s b"), "path has a character");
    check_refused(with_head_edit("\"query\":\"a=1", "\"query\":\"a=1#frag"), "query");
    check_refused(with_head_edit("\"queue\":\"slow-queue\"", "\"queue\":\"slow.queue\""),
                  "queue must be");
    check_refused(with_head_edit("\"callback_url\":\"http:", "\"callback_url\":\"file:"),
                  "callback URL");
    check_refused(with_head_edit(".123456789Z", ".123456789+00:00"), "enqueued_at");
    check_refused(with_head_edit("2026-12-02T", "2026-13-02T"), "enqueued_at");
    // Header injection: a CR/LF (or any control character) in a stored value.
    check_refused(with_head_edit("\"text/plain\"", "\"text/plain\\r\\nX-Admin: yes\""),
                  "header Content-Type has a control character");
    check_refused(with_head_edit("\"text/plain\"", "\"text\\u0000plain\""),
                  "header Content-Type has a control character");
    check_refused(with_head_edit("[\"Accept\",", "[\"Acc ept\","), "header name");
    check_refused(with_head_edit("[\"Accept\",", "[\"\","), "header name");
}

TEST_CASE("size bounds: headers count, name, value, all headers, path, query, callback") {
    CallMessage m = sample();
    m.headers.assign(100, {"X-H", "v"});
    CHECK(decode(encode(m), kLimit) == m);
    m.headers.emplace_back("X-H", "v");
    CHECK_THROWS_WITH_AS(encode(m), doctest::Contains("more than 100 headers"), BadMessage);

    m = sample();
    m.headers = {{std::string(257, 'n'), "v"}};
    CHECK_THROWS_AS(encode(m), BadMessage);
    m.headers = {{"X-Big", std::string(16 << 10, 'v')}};
    CHECK(decode(encode(m), kLimit) == m);
    m.headers = {{"X-Big", std::string((16 << 10) + 1, 'v')}};
    CHECK_THROWS_WITH_AS(encode(m), doctest::Contains("longer than 16 KiB"), BadMessage);
    m.headers.assign(5, {"X-Big", std::string(16 << 10, 'v')});
    CHECK_THROWS_WITH_AS(encode(m), doctest::Contains("64 KiB together"), BadMessage);

    m = sample();
    m.path = "/" + std::string(8 << 10, 'p');
    CHECK_THROWS_AS(encode(m), BadMessage);
    m = sample();
    m.query = std::string((8 << 10) + 1, 'q');
    CHECK_THROWS_AS(encode(m), BadMessage);
    m = sample();
    m.callback_url = "http://" + std::string(2 << 10, 'h');
    CHECK_THROWS_AS(encode(m), BadMessage);
    m = sample();
    m.call_id = std::string(129, 'a');
    CHECK_THROWS_AS(encode(m), BadMessage);
}

TEST_CASE("a message at every limit, all of it escaped, still has a head within kMaxHeadBytes") {
    CallMessage m = sample();
    m.call_id = std::string(faas::queue::kMaxCallIdBytes, 'c');
    m.function = std::string(faas::queue::kMaxFunctionBytes, 'f');
    m.method = std::string(32, 'M');
    m.headers.assign(faas::queue::kMaxHeaders, {"X", std::string(654, '"')});
    m.path = "/" + std::string(faas::queue::kMaxPathBytes - 1, '\\');
    m.query = std::string(faas::queue::kMaxQueryBytes, '"');
    m.callback_url = "http://" + std::string(faas::queue::kMaxCallbackUrlBytes - 7, '"');
    m.queue = std::string(faas::queue::kMaxQueueNameBytes, 'q');
    m.body = "b";
    const std::string bytes = encode(m);
    CHECK(bytes.size() - m.body.size() <= faas::queue::kMaxHeadBytes);
    CHECK(decode(bytes, 1) == m);
}

TEST_CASE("encode refuses what decode would: text that is not UTF-8, times it cannot spell") {
    CallMessage m = sample();
    m.headers = {{"X-Latin1", "caf\xe9"}};
    CHECK_THROWS_WITH_AS(encode(m), doctest::Contains("not UTF-8"), BadMessage);
    m.headers = {{"X-Overlong", "\xc0\xaf"}};
    CHECK_THROWS_AS(encode(m), BadMessage);
    m.headers = {{"X-Surrogate", "\xed\xa0\x80"}};
    CHECK_THROWS_AS(encode(m), BadMessage);
    m.headers = {{"X-Cut", "\xe2\x82"}};
    CHECK_THROWS_AS(encode(m), BadMessage);
    m = sample();
    m.enqueued_at = std::chrono::system_clock::time_point(-std::chrono::seconds(1));
    CHECK_THROWS_WITH_AS(encode(m), doctest::Contains("out of range"), BadMessage);
    m.enqueued_at = {};
    CHECK(decode(encode(m), kLimit) == m);  // The epoch itself is fine.
}

TEST_CASE("call ids and queue names: what the gateway may accept") {
    using faas::queue::is_valid_call_id;
    using faas::queue::is_valid_queue_name;
    CHECK(is_valid_call_id("8c0b3a4e-5f1d-4c2a-9b7e-0d1f2a3b4c5d"));
    CHECK(is_valid_call_id("A_b-9"));
    CHECK(is_valid_call_id(std::string(128, 'a')));
    CHECK_FALSE(is_valid_call_id(std::string(129, 'a')));
    CHECK_FALSE(is_valid_call_id(""));
    CHECK_FALSE(is_valid_call_id("a.b"));
    CHECK_FALSE(is_valid_call_id("a b"));
    CHECK_FALSE(is_valid_call_id("a*"));
    CHECK(is_valid_queue_name("default"));
    CHECK_FALSE(is_valid_queue_name("a.b"));
    CHECK_FALSE(is_valid_queue_name(">"));
    CHECK_FALSE(is_valid_queue_name(std::string(65, 'q')));
}
