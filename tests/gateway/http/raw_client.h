// A raw-socket HTTP/1.1 client for the front door's tests: it sends exactly the bytes it is
// given (pipelined, split, malformed) and reads answers one at a time, keeping what arrives
// early for the next read, and tells an orderly end of the connection from a stall.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/raw_http.h"

namespace faas::test {

struct RawResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    bool has(std::string_view name) const {
        for (const auto& [n, v] : headers)
            if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0)
                return true;
        return false;
    }
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : headers)
            if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0)
                return v;
        return {};
    }
};

class RawClient {
  public:
    using Clock = std::chrono::steady_clock;

    explicit RawClient(int port) : fd_(connect_loopback(port)) {
        if (fd_ >= 0) {
            int yes = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        }
    }
    ~RawClient() { close(); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    bool send(const std::string& bytes) { return fd_ >= 0 && send_all(fd_, bytes); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    /// Closes with a reset rather than a FIN.
    void reset() {
        if (fd_ < 0) return;
        linger hard{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        close();
    }
    /// Shrinks the receive buffer (before the server has much to send), to be a slow reader.
    void small_receive_buffer(int bytes) {
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }

    /// One response, or nothing when it did not arrive whole before `timeout`.
    std::optional<RawResponse> read(bool head_request = false,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = Clock::now() + timeout;
        RawResponse response;
        std::string line;
        if (!read_line(line, deadline) || line.rfind("HTTP/1.1 ", 0) != 0 || line.size() < 12)
            return std::nullopt;
        response.status = std::atoi(line.c_str() + 9);
        while (true) {
            if (!read_line(line, deadline)) return std::nullopt;
            if (line.empty()) break;
            const auto colon = line.find(':');
            if (colon == std::string::npos) return std::nullopt;
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            response.headers.emplace_back(line.substr(0, colon), value);
        }
        const int status = response.status;
        if (head_request || status < 200 || status == 204 || status == 304) return response;
        if (::strcasecmp(response.header("Transfer-Encoding").c_str(), "chunked") == 0) {
            for (int chunks = 0; chunks < (1 << 24); ++chunks) {
                if (!read_line(line, deadline)) return std::nullopt;
                const std::size_t size = std::strtoull(line.c_str(), nullptr, 16);
                if (size == 0) {
                    if (!read_line(line, deadline)) return std::nullopt;
                    return response;
                }
                if (!fill(size + 2, deadline)) return std::nullopt;
                response.body.append(buffer_, 0, size);
                buffer_.erase(0, size + 2);
            }
            return std::nullopt;
        }
        if (!response.has("Content-Length")) {  // delimited by the close
            while (fill(buffer_.size() + 1, deadline)) {
            }
            if (!eof_) return std::nullopt;
            response.body = std::move(buffer_);
            buffer_.clear();
            return response;
        }
        const std::size_t length =
            std::strtoull(response.header("Content-Length").c_str(), nullptr, 10);
        if (!fill(length, deadline)) return std::nullopt;
        response.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return response;
    }

    /// True when the server ends the connection (EOF or reset) before `timeout` without
    /// sending anything more.
    bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto deadline = Clock::now() + timeout;
        while (!eof_ && buffer_.empty())
            if (!fill(1, deadline)) break;
        return eof_ && buffer_.empty();
    }
    /// True when nothing at all arrives (no byte, no end) for `period`.
    bool silent_for(std::chrono::milliseconds period) {
        if (!buffer_.empty() || eof_) return false;
        pollfd entry{fd_, POLLIN, 0};
        return ::poll(&entry, 1, static_cast<int>(period.count())) == 0;
    }
    const std::string& unread() const { return buffer_; }
    /// The server has ended the connection (EOF or reset), whatever was left unread.
    bool ended() const { return eof_; }

  private:
    bool read_line(std::string& line, Clock::time_point deadline) {
        std::size_t searched = 0;
        while (true) {
            const auto end = buffer_.find("\r\n", searched);
            if (end != std::string::npos) {
                line = buffer_.substr(0, end);
                buffer_.erase(0, end + 2);
                return true;
            }
            searched = buffer_.empty() ? 0 : buffer_.size() - 1;
            if (!fill(buffer_.size() + 1, deadline)) return false;
        }
    }

    // Reads until `want` bytes are buffered; false at EOF or the deadline.
    bool fill(std::size_t want, Clock::time_point deadline) {
        while (buffer_.size() < want) {
            if (eof_ || fd_ < 0) return false;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return false;
            pollfd entry{fd_, POLLIN, 0};
            if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) return false;
            char chunk[64 << 10];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) {
                eof_ = true;  // EOF, or a reset
                return false;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
        return true;
    }

    int fd_;
    std::string buffer_;
    bool eof_ = false;
};

inline std::string raw_get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

inline std::string raw_post(const std::string& target, const std::string& body,
                            const std::string& extra = "") {
    return "POST " + target +
           " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           extra + "\r\n" + body;
}

/// `body` in chunks of at most `piece` bytes, with the last chunk.
inline std::string chunked(std::string_view body, std::size_t piece) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t at = 0; at < body.size(); at += piece) {
        const std::string_view part = body.substr(at, piece);
        std::string size;
        for (std::size_t n = part.size(); n > 0; n /= 16) size.insert(size.begin(), kHex[n % 16]);
        out += size + "\r\n";
        out += part;
        out += "\r\n";
    }
    return out + "0\r\n\r\n";
}

/// pattern() made a piece at a time, for bodies too large to make whole up front.
class PatternStream {
  public:
    explicit PatternStream(unsigned seed) : state_(seed * 2654435761u + 1) {}
    /// The next `size` bytes of the pattern.
    std::string next(std::size_t size) {
        std::string text(size, '\0');
        for (auto& c : text) {
            state_ = state_ * 1664525u + 1013904223u;
            c = static_cast<char>('a' + (state_ >> 24) % 26);
        }
        return text;
    }

  private:
    std::uint32_t state_;
};

/// Bytes that differ from one position to the next, so a lost or repeated piece shows.
inline std::string pattern(std::size_t size, unsigned seed = 1) {
    return PatternStream(seed).next(size);
}

}  // namespace faas::test
