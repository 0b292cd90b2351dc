// Early answers that the client gets to read. A request refused before its body was read (413,
// 429, 503, ...) used to be answered and closed at once; a client that sends its whole body
// before reading (Python's http.client, requests) then hit a reset connection instead of the
// answer. Here the answer is written first, then what the client still sends is read and
// discarded, within bounds, and only then is the connection closed.
//
// cpp-httplib 0.11.4 does not expose the connection's socket, so there is no half-close
// (shutdown(SHUT_WR)) before the drain: the answer is complete on the wire before the drain
// starts, and a drain that reads the whole body makes the final close a clean FIN.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace faas::watchdog {

/// How much of an unwanted body is read and discarded before the connection is closed anyway.
inline constexpr std::uint64_t kDrainMaxBytes = 64u << 20;
inline constexpr std::chrono::seconds kDrainMaxTime{10};

/// Counts discarded body bytes against the drain bounds.
class DrainLimit {
  public:
    explicit DrainLimit(std::uint64_t max_bytes = kDrainMaxBytes);
    /// Counts `size` more bytes; false once past the byte bound or the time bound.
    bool take(std::size_t size);

  private:
    std::uint64_t left_;
    std::chrono::steady_clock::time_point deadline_;
};

/// Sets a response (`status`, plain-text `message`, Connection: close) that is written in full,
/// after which up to `drain_bytes` of the request body are read through `reader` and discarded
/// (0: none), and the connection is closed. `reader` is copied: it stays valid while the response
/// is written, as it refers to the connection, not to the handler's frame.
void answer_then_drain(httplib::Response& res, int status, std::string message,
                       const httplib::ContentReader& reader, std::uint64_t drain_bytes);

/// What draining `req`'s body before closing should read: its Content-Length, or the drain bound
/// for a chunked body; 0 when there is no body or it is longer than the bound (a client still
/// sending then cannot be helped, and the thread is not held for it).
std::uint64_t drain_size(const httplib::Request& req);

}  // namespace faas::watchdog
