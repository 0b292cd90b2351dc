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
};

inline constexpr std::size_t kMaxHeaderCount = 100;
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

bool is_allowed_method(const std::string& method);

/// A reason to refuse the request, or nullopt to go on. `max_request_bytes` bounds a declared
/// Content-Length (413 before any byte of the body is read).
std::optional<Rejection> check_request(const httplib::Request& req, std::uint64_t max_request_bytes);

}  // namespace faas::watchdog
