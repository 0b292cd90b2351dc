// Recognises the plain HTTP/1.1 requests the gateway's event loop serves itself: a request
// line, token-named headers and an optional Content-Length body. Anything else (chunked bodies,
// Expect, Upgrade, HTTP/1.0, folded or odd header lines) is handed to cpp-httplib, which has
// always served it, so this parser only ever has to be right about the simple case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace faas::gateway {

struct RequestHead {
    std::string_view method;
    std::string_view target;  ///< As written: path and query, still percent-encoded.
    /// Names and values view the buffer that was parsed; values without surrounding blanks.
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::size_t head_bytes = 0;  ///< Up to and including the blank line.
    std::uint64_t content_length = 0;
    bool keep_alive = true;  ///< False when the client sent "Connection: close".

    /// The first header called `name` (any case), or an empty view.
    std::string_view header(std::string_view name) const;
};

enum class HeadStatus {
    kIncomplete,  ///< Need more bytes.
    kComplete,    ///< `head` is filled; the body is the next `content_length` bytes.
    kHandOff,     ///< Not the simple case: let the general-purpose server parse it.
    kTooLarge,    ///< No blank line within `max_head_bytes`: answer 431 and close.
};

struct HeadLimits {
    std::size_t max_head_bytes = 64 << 10;
    std::size_t max_headers = 100;
};

/// Parses the request head at the start of `buffer`. Only HTTP/1.1 with CRLF line ends,
/// a token method, a target of visible ASCII starting with '/', token header names and
/// values free of control characters is kComplete; Transfer-Encoding, Expect, Upgrade, a
/// repeated or non-numeric Content-Length, and header counts past the limit are kHandOff.
HeadStatus parse_request_head(std::string_view buffer, const HeadLimits& limits, RequestHead& head);

}  // namespace faas::gateway
