// Checks made on a request before any of its body is read or any process is started:
// methods, header syntax and size, and framing that could smuggle a second request.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>

namespace faas::watchdog {

struct Rejection {
    int status;
    std::string message;
    /// The body's framing is unambiguous (one valid Content-Length, or plain chunked), so the
    /// body can be read and discarded after the answer. False when reading it could take a
    /// smuggled request for body, or the other way round: then the connection just closes.
    bool body_readable = false;
};

/// Above the gateway's 100: a request of 100 fields it accepted arrives here with the few it
/// adds (X-Forwarded-For, X-Forwarded-Host, X-Call-Id).
inline constexpr std::size_t kMaxHeaderCount = 128;
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

bool is_allowed_method(const std::string& method);

/// A reason to refuse the request, or nullopt to go on. `max_request_bytes` bounds a declared
/// Content-Length (413 before any byte of the body is read).
std::optional<Rejection> check_request(const httplib::Request& req,
                                       std::uint64_t max_request_bytes);

}  // namespace faas::watchdog
