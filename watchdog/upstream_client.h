// A minimal HTTP/1.1 client for http mode's one upstream: a persistent blocking socket per
// server thread, the request written with one writev, the response parsed from one buffer.
// cpp-httplib's client polls before every read and write and splits head and body into
// separate sends; on the hot path of a warm function that doubled the watchdog's syscalls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace faas::watchdog {

struct UpstreamResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

enum class UpstreamError {
    kNone,
    kConnect,      ///< Could not connect (nothing was sent).
    kIo,           ///< The connection failed mid-exchange.
    kTimeout,      ///< No complete response before the deadline.
    kBadResponse,  ///< Not HTTP/1.x, or a malformed head or chunk.
    kTooLarge,     ///< The response head or body passed its bound.
    kOverBudget,   ///< Buffering the response would pass max_buffered_bytes.
};

const char* to_string(UpstreamError error);

class UpstreamConnection {
  public:
    /// Asked before the response's buffers grow by `bytes`; false refuses (kOverBudget).
    using GrowthCheck = std::function<bool(std::size_t bytes)>;

    /// `io_timeout` is the longest a round trip may take (set on the socket once, per connection).
    UpstreamConnection(std::string host, int port, std::uint64_t max_body_bytes,
                       std::chrono::milliseconds io_timeout);
    ~UpstreamConnection();
    UpstreamConnection(const UpstreamConnection&) = delete;
    UpstreamConnection& operator=(const UpstreamConnection&) = delete;

    /// Sends `head` (request line and headers, ending in a blank line) and `body`, and reads the
    /// response before `deadline`. A kept-alive connection the upstream had closed is replaced
    /// once, transparently, when no byte of a response had arrived on it. Every growth of the
    /// buffers the response is read into is first cleared with `may_grow` (when given).
    UpstreamError round_trip(const std::string& head, const std::string& body, bool head_request,
                             std::chrono::steady_clock::time_point deadline, UpstreamResponse& out,
                             GrowthCheck may_grow = {});
    /// Drops the connection (its state is unknown after an error).
    void reset();

  private:
    UpstreamError round_trip_once_or_twice(const std::string& head, const std::string& body,
                                           bool head_request,
                                           std::chrono::steady_clock::time_point deadline,
                                           UpstreamResponse& out);
    UpstreamError connect_to(std::chrono::steady_clock::time_point deadline);
    UpstreamError exchange(const std::string& head, const std::string& body, bool head_request,
                           std::chrono::steady_clock::time_point deadline, UpstreamResponse& out,
                           bool& got_bytes);
    UpstreamError fill(std::chrono::steady_clock::time_point deadline, bool& got_bytes);
    /// Makes room for `needed` bytes in `text`, paid for through may_grow_ first.
    bool room_for(std::string& text, std::size_t needed);

    std::string host_;
    int port_;
    std::uint64_t max_body_bytes_;
    std::chrono::milliseconds io_timeout_;
    int fd_ = -1;
    std::string buffer_;    ///< Received and not yet consumed.
    GrowthCheck may_grow_;  ///< The current round trip's.
};

}  // namespace faas::watchdog
