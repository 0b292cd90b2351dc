// Fuzz target: the event loop's request-head parser, fed whatever a client sends first on a
// connection. A head it calls complete must be one the loop can serve without looking past
// it, and its verdict must not change as more bytes arrive (the loop parses again on every read).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http_server.h"
#include "request_head.h"

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

void check_complete(std::string_view input, const HeadLimits& limits, const RequestHead& head) {
    if (head.head_bytes < 4 || head.head_bytes > input.size()) __builtin_trap();
    if (head.head_bytes > limits.max_head_bytes) __builtin_trap();
    if (input.substr(head.head_bytes - 4, 4) != "\r\n\r\n") __builtin_trap();
    if (head.method.empty() || head.target.empty() || head.target.front() != '/') __builtin_trap();
    const std::string_view parsed = input.substr(0, head.head_bytes);
    if (!inside(head.method, parsed) || !inside(head.target, parsed)) __builtin_trap();
    if (head.headers.size() > limits.max_headers) __builtin_trap();
    int lengths = 0;
    bool close = false;
    bool exact_close = false;
    for (const auto& [name, value] : head.headers) {
        if (name.empty() || !inside(name, parsed)) __builtin_trap();
        if (!value.empty() && !inside(value, parsed)) __builtin_trap();
        if (blank_edged(value)) __builtin_trap();
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7f) __builtin_trap();
        if (iequals(name, "Transfer-Encoding") || iequals(name, "Expect") ||
            iequals(name, "Upgrade"))
            __builtin_trap();
        if (iequals(name, "Content-Length")) ++lengths;
        if (iequals(name, "Connection")) {
            if (iequals(value, "close")) exact_close = true;
            if (contains_close(value)) close = true;
        }
    }
    if (lengths > 1) __builtin_trap();
    if (lengths == 0 && head.content_length != 0) __builtin_trap();
    if (!head.keep_alive && !close) __builtin_trap();  // only a Connection field can end it
    if (head.keep_alive && exact_close) __builtin_trap();
    if (head.header("Content-Length").empty() != (lengths == 0)) __builtin_trap();
}

void check(std::string_view input, const HeadLimits& limits) {
    RequestHead head;
    const HeadStatus status = parse_request_head(input, limits, head);
    switch (status) {
        case HeadStatus::kComplete:
            check_complete(input, limits, head);
            break;
        case HeadStatus::kIncomplete:
            if (input.size() > limits.max_head_bytes) __builtin_trap();
            break;
        case HeadStatus::kTooLarge:
            if (input.size() <= limits.max_head_bytes) __builtin_trap();
            break;
        case HeadStatus::kHandOff:
            break;
    }

    // A verdict other than kIncomplete holds for every longer input: the loop parses its
    // buffer again after each read and must not change its mind.
    const std::size_t cuts[] = {input.size() / 2, input.size() * 3 / 4,
                                input.size() > 0 ? input.size() - 1 : 0};
    for (std::size_t cut : cuts) {
        RequestHead prefix_head;
        const HeadStatus prefix = parse_request_head(input.substr(0, cut), limits, prefix_head);
        if (prefix == HeadStatus::kIncomplete) continue;
        if (prefix != status) __builtin_trap();
        if (status == HeadStatus::kComplete && (prefix_head.head_bytes != head.head_bytes ||
                                                prefix_head.headers.size() != head.headers.size() ||
                                                prefix_head.content_length != head.content_length ||
                                                prefix_head.keep_alive != head.keep_alive))
            __builtin_trap();
    }
    if (status == HeadStatus::kComplete) {
        // The head alone parses the same, and one byte less is not complete.
        RequestHead alone;
        const std::string_view exact = input.substr(0, head.head_bytes);
        if (parse_request_head(exact, limits, alone) != HeadStatus::kComplete ||
            alone.head_bytes != head.head_bytes)
            __builtin_trap();
        if (parse_request_head(exact.substr(0, exact.size() - 1), limits, alone) ==
            HeadStatus::kComplete)
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
    check(input, HeadLimits{64, 3});
    check(input, HeadLimits{0, 0});
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "GET / HTTP/1.1\r\n\r\n",
        "GET /function/echo?x=1 HTTP/1.1\r\nHost: gateway\r\nAccept: */*\r\n\r\n",
        "POST /function/echo HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
        "GET / HTTP/1.1\r\nconnection:\tClose \r\nX-Empty:\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
        "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET http://example.com/ HTTP/1.1\r\n\r\n",
        "GET /a%20b HTTP/1.1\r\nBad Name: x\r\n\r\n",
        std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27),
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n",
    };
}
