// The gateway's one HTTP/1.x request parser: every request, function call or admin call, is
// read here. It is strict on purpose (RFC 9112): anything two implementations could read two
// ways (a repeated or listed Content-Length, Transfer-Encoding beside a length, a coding other
// than chunked, a blank before a colon, obs-fold, bare LF, control characters, a missing or
// doubled Host) is refused with a status, and the connection is closed after the answer, so
// nothing can be smuggled past the gateway to a function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace faas::gateway {

enum class BodyFraming {
    kNone,     ///< No body.
    kLength,   ///< `content_length` bytes.
    kChunked,  ///< Transfer-Encoding: chunked.
};

struct RequestHead {
    std::string_view method;
    std::string_view target;  ///< As written: path and query, still percent-encoded.
    int minor_version = 1;    ///< HTTP/1.0 or HTTP/1.1.
    /// Names and values view the buffer that was parsed; values without surrounding blanks.
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::size_t head_bytes = 0;  ///< Up to and including the blank line.
    BodyFraming framing = BodyFraming::kNone;
    std::uint64_t content_length = 0;
    bool keep_alive = true;        ///< Per version and the Connection header.
    bool expect_continue = false;  ///< Expect: 100-continue.

    /// The first header called `name` (any case), or an empty view.
    std::string_view header(std::string_view name) const;
    /// Path without the query.
    std::string_view path() const { return target.substr(0, target.find('?')); }
};

enum class HeadStatus {
    kIncomplete,  ///< Need more bytes.
    kComplete,    ///< `head` is filled.
    kRefused,     ///< Answer `refusal` and close the connection.
};

/// Why a head was refused: the status to answer and a plain-text reason.
struct Refusal {
    int status = 400;
    std::string_view reason;
};

struct HeadLimits {
    std::size_t max_head_bytes = 64 << 10;   ///< The whole head: 431 past it.
    std::size_t max_request_line = 8 << 10;  ///< The request line: 414 past it.
    std::size_t max_headers = 100;           ///< Header fields: 431 past it.
};

/// Parses the request head at the start of `buffer`. On kRefused, `refusal` says why.
HeadStatus parse_request_head(std::string_view buffer, const HeadLimits& limits, RequestHead& head,
                              Refusal& refusal);

}  // namespace faas::gateway
