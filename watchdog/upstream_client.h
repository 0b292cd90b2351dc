// A minimal HTTP/1.1 client for http mode's one upstream: a persistent blocking socket per
// server thread, the request written with one writev, the response parsed from one buffer.
// cpp-httplib's client polls before every read and write and splits head and body into
// separate sends; on the hot path of a warm function that doubled the watchdog's syscalls.
#pragma once

#include <chrono>
#include <cstdint>
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
    none,
    connect,         ///< Could not connect (nothing was sent).
    io,              ///< The connection failed mid-exchange.
    timeout,         ///< No complete response before the deadline.
    bad_response,    ///< Not HTTP/1.x, or a malformed head or chunk.
    too_large,       ///< The response head or body passed its bound.
};

const char* to_string(UpstreamError error);

class UpstreamConnection {
public:
    /// `io_timeout` is the longest a round trip may take (set on the socket once, per connection).
    UpstreamConnection(std::string host, int port, std::uint64_t max_body_bytes,
                       std::chrono::milliseconds io_timeout);
    ~UpstreamConnection();
    UpstreamConnection(const UpstreamConnection&) = delete;
    UpstreamConnection& operator=(const UpstreamConnection&) = delete;

    /// Sends `head` (request line and headers, ending in a blank line) and `body`, and reads the
    /// response before `deadline`. A kept-alive connection the upstream had closed is replaced
    /// once, transparently, when no byte of a response had arrived on it.
    UpstreamError round_trip(const std::string& head, const std::string& body, bool head_request,
                             std::chrono::steady_clock::time_point deadline, UpstreamResponse& out);
    /// Drops the connection (its state is unknown after an error).
    void reset();

private:
    UpstreamError connect_to(std::chrono::steady_clock::time_point deadline);
    UpstreamError exchange(const std::string& head, const std::string& body, bool head_request,
                           std::chrono::steady_clock::time_point deadline, UpstreamResponse& out,
                           bool& got_bytes);
    UpstreamError fill(std::chrono::steady_clock::time_point deadline, bool& got_bytes);

    std::string host_;
    int port_;
    std::uint64_t max_body_bytes_;
    std::chrono::milliseconds io_timeout_;
    int fd_ = -1;
    std::string buffer_;  ///< Received and not yet consumed.
};

}  // namespace faas::watchdog
