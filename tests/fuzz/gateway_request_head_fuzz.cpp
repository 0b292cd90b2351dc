// Fuzz target: the front door's request-head parser, fed whatever a client sends first on a
// connection. A head it calls complete must be unambiguous (one framing, one Host for HTTP/1.1,
// nothing a second parser could read another way); a refusal carries a status and a reason;
// and its verdict must not change as more bytes arrive (the connection parses again on every
// read).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_head.h"
#include "http_text.h"

namespace {

using namespace faas::gateway;
using faas::iequals;

bool inside(std::string_view view, std::string_view buffer) {
    return view.data() >= buffer.data() &&
           view.data() + view.size() <= buffer.data() + buffer.size();
}

bool blank_edged(std::string_view value) {
    return !value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                              value.back() == ' ' || value.back() == '\t');
}

bool contains_close(std::string_view value) {
    for (std::size_t i = 0; i + 5 <= value.size(); ++i)
        if (iequals(value.substr(i, 5), "close")) return true;
    return false;
}

// "close" as one of the comma-separated tokens of `value`.
bool has_close_token(std::string_view value) {
    while (true) {
        const auto comma = value.find(',');
        std::string_view token = value.substr(0, comma);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
            token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
            token.remove_suffix(1);
        if (iequals(token, "close")) return true;
        if (comma == std::string_view::npos) return false;
        value.remove_prefix(comma + 1);
    }
}

void check_complete(std::string_view input, const HeadLimits& limits, const RequestHead& head) {
    if (head.head_bytes < 4 || head.head_bytes > input.size()) __builtin_trap();
    if (head.head_bytes > limits.max_head_bytes) __builtin_trap();
    if (input.substr(head.head_bytes - 4, 4) != "\r\n\r\n") __builtin_trap();
    if (head.method.empty() || head.target.empty() || head.target.front() != '/') __builtin_trap();
    if (head.minor_version != 0 && head.minor_version != 1) __builtin_trap();
    const std::string_view parsed = input.substr(0, head.head_bytes);
    if (!inside(head.method, parsed) || !inside(head.target, parsed)) __builtin_trap();
    if (head.headers.size() > limits.max_headers) __builtin_trap();
    int lengths = 0;
    int encodings = 0;
    int hosts = 0;
    bool close = false;        // "close" anywhere in a Connection value
    bool close_token = false;  // "close" as one of its tokens
    bool expect = false;
    for (const auto& [name, value] : head.headers) {
        if (name.empty() || !inside(name, parsed)) __builtin_trap();
        if (!value.empty() && !inside(value, parsed)) __builtin_trap();
        if (blank_edged(value)) __builtin_trap();
        for (unsigned char c : name)
            if (c <= 0x20 || c >= 0x7f || c == ':') __builtin_trap();
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7f) __builtin_trap();
        if (iequals(name, "Content-Length")) {
            ++lengths;
            for (char c : value)
                if (c < '0' || c > '9') __builtin_trap();
        }
        if (iequals(name, "Transfer-Encoding")) {
            ++encodings;
            if (!iequals(value, "chunked")) __builtin_trap();
        }
        if (iequals(name, "Host")) ++hosts;
        if (iequals(name, "Expect")) {
            if (!iequals(value, "100-continue")) __builtin_trap();
            expect = true;
        }
        if (iequals(name, "Connection")) {
            if (contains_close(value)) close = true;
            if (has_close_token(value)) close_token = true;
        }
    }
    if (encodings > 1 || (encodings == 1 && (lengths > 0 || head.minor_version == 0)))
        __builtin_trap();
    if (hosts > 1 || (hosts == 0 && head.minor_version == 1)) __builtin_trap();
    if (expect != head.expect_continue) __builtin_trap();
    switch (head.framing) {
        case BodyFraming::kChunked:
            if (encodings != 1 || head.content_length != 0) __builtin_trap();
            break;
        case BodyFraming::kLength:
            if (lengths == 0 || head.content_length == 0) __builtin_trap();
            break;
        case BodyFraming::kNone:
            if (encodings != 0 || head.content_length != 0) __builtin_trap();
            break;
    }
    if (lengths == 0 && head.content_length != 0) __builtin_trap();
    // Only a Connection field ends an HTTP/1.1 connection; HTTP/1.0 stays only when asked.
    if (head.minor_version == 1 && !head.keep_alive && !close) __builtin_trap();
    if (head.keep_alive && close_token) __builtin_trap();
}

void check(std::string_view input, const HeadLimits& limits) {
    RequestHead head;
    Refusal refusal;
    const HeadStatus status = parse_request_head(input, limits, head, refusal);
    switch (status) {
        case HeadStatus::kComplete:
            check_complete(input, limits, head);
            break;
        case HeadStatus::kIncomplete:
            if (input.size() > limits.max_head_bytes && input.size() > limits.max_request_line + 2)
                __builtin_trap();
            break;
        case HeadStatus::kRefused:
            if (refusal.reason.empty()) __builtin_trap();
            if (refusal.status != 400 && refusal.status != 414 && refusal.status != 417 &&
                refusal.status != 431 && refusal.status != 505)
                __builtin_trap();
            break;
    }

    // A verdict other than kIncomplete holds for every longer input, with the same status:
    // the connection parses its buffer again after each read and must not change its mind.
    const std::size_t cuts[] = {input.size() / 2, input.size() * 3 / 4,
                                input.size() > 0 ? input.size() - 1 : 0};
    for (std::size_t cut : cuts) {
        RequestHead prefix_head;
        Refusal prefix_refusal;
        const HeadStatus prefix =
            parse_request_head(input.substr(0, cut), limits, prefix_head, prefix_refusal);
        if (prefix == HeadStatus::kIncomplete) continue;
        if (prefix != status) __builtin_trap();
        if (status == HeadStatus::kRefused && prefix_refusal.status != refusal.status)
            __builtin_trap();
        if (status == HeadStatus::kComplete &&
            (prefix_head.head_bytes != head.head_bytes ||
             prefix_head.headers.size() != head.headers.size() ||
             prefix_head.content_length != head.content_length ||
             prefix_head.framing != head.framing || prefix_head.keep_alive != head.keep_alive))
            __builtin_trap();
    }
    if (status == HeadStatus::kComplete) {
        // The head alone parses the same, and one byte less is not complete.
        RequestHead alone;
        Refusal unused;
        const std::string_view exact = input.substr(0, head.head_bytes);
        if (parse_request_head(exact, limits, alone, unused) != HeadStatus::kComplete ||
            alone.head_bytes != head.head_bytes)
            __builtin_trap();
        if (parse_request_head(exact.substr(0, exact.size() - 1), limits, alone, unused) !=
            HeadStatus::kIncomplete)
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly `size` bytes, so ASan sees any read past the end.
    const std::vector<char> bytes(data, data + size);
    const std::string_view input(bytes.data(), bytes.size());
    check(input, HeadLimits{});
    // Small limits, so short inputs reach the size and count limits too.
    check(input, HeadLimits{64, 32, 3});
    check(input, HeadLimits{0, 0, 0});
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /function/echo?x=1 HTTP/1.1\r\nHost: gateway\r\nAccept: */*\r\n\r\n",
        "POST /function/echo HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: g\r\nConnection: keep-alive, close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: g\r\nconnection:\tClose \r\nX-Empty:\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
        "chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nContent-Length: 52\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5, 52\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: g\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        "POST / HTTP/1.1\r\nHost: g\r\nExpect: 200-ok\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
        "GET / HTTP/2.0\r\nHost: g\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: g\r\nX-A: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : g\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET http://example.com/ HTTP/1.1\r\n\r\n",
        std::string("GET / HTTP/1.1\r\nHost: g\r\nX: a\0b\r\n\r\n", 36),
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: g\r\n\r\n",
    };
}
