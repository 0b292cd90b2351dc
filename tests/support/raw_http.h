// Raw HTTP/1.1 over a socket, for tests that need what client libraries don't do: send and
// receive at the same time, or look at the chunked framing itself.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace faas::test {

/// A connected TCP socket to 127.0.0.1:<port>, or -1.
int connect_loopback(int port);
/// Writes all of `data`; false if the peer went away.
bool send_all(int fd, const std::string& data);

/// Reads one response: status line, headers, and a chunked or Content-Length body handed to
/// on_data piece by piece (nothing is buffered whole).
struct ChunkedReader {
    std::function<void(const char*, std::size_t)> on_data;
    int status = 0;
    bool chunked = false;
    /// True when the response arrived complete before `timeout`.
    bool read_response(int fd, std::chrono::milliseconds timeout);
};

}  // namespace faas::test
