// HTTP/1.1 round trips to the http-mode upstream.
#include "upstream_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "http_text.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;

int remaining_ms(Clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::max<long long>(0, std::min<long long>(left, 24LL * 3600 * 1000)));
}

void set_receive_timeout(int fd, int ms) {
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;  // 0 would mean "no timeout".
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A kept connection's read buffer keeps this much capacity between round trips; a larger
// response's buffer is freed, not kept by an idle thread.
constexpr std::size_t kKeptCapacity = 64 * 1024;

}  // namespace

const char* to_string(UpstreamError error) {
    switch (error) {
        case UpstreamError::kNone:
            return "ok";
        case UpstreamError::kConnect:
            return "cannot connect";
        case UpstreamError::kIo:
            return "connection failed";
        case UpstreamError::kTimeout:
            return "timed out";
        case UpstreamError::kBadResponse:
            return "malformed response";
        case UpstreamError::kTooLarge:
            return "response too large";
        case UpstreamError::kOverBudget:
            return "response does not fit in max_buffered_bytes";
    }
    return "?";
}

UpstreamConnection::UpstreamConnection(std::string host, int port, std::uint64_t max_body_bytes,
                                       std::chrono::milliseconds io_timeout)
    : host_(std::move(host)),
      port_(port),
      max_body_bytes_(max_body_bytes),
      io_timeout_(io_timeout) {}

UpstreamConnection::~UpstreamConnection() {
    reset();
}

void UpstreamConnection::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
}

UpstreamError UpstreamConnection::connect_to(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found) != 0)
        return UpstreamError::kConnect;
    UpstreamError result = UpstreamError::kConnect;
    for (addrinfo* ai = found; ai && fd_ < 0; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
        if (fd < 0) continue;
        bool connected = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        if (!connected && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, std::min(remaining_ms(deadline), 2000)) == 1) {
                int error = 0;
                socklen_t len = sizeof error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
                connected = error == 0;
            }
        }
        if (!connected) {
            ::close(fd);
            continue;
        }
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        set_receive_timeout(fd, static_cast<int>(io_timeout_.count()));
        fd_ = fd;
        result = UpstreamError::kNone;
    }
    ::freeaddrinfo(found);
    return result;
}

UpstreamError UpstreamConnection::fill(Clock::time_point deadline, bool& got_bytes) {
    if (buffer_.size() > kMaxHeadBytes + max_body_bytes_ + kReadChunk)
        return UpstreamError::kTooLarge;
    std::size_t old_size = buffer_.size();
    if (!room_for(buffer_, old_size + kReadChunk)) return UpstreamError::kOverBudget;
    buffer_.resize(old_size + kReadChunk);
    while (true) {
        ssize_t n = ::recv(fd_, buffer_.data() + old_size, kReadChunk, 0);
        if (n > 0) {
            buffer_.resize(old_size + static_cast<std::size_t>(n));
            got_bytes = true;
            // The socket timeout bounds each wait; the deadline bounds the whole response.
            return Clock::now() > deadline ? UpstreamError::kTimeout : UpstreamError::kNone;
        }
        buffer_.resize(old_size);
        if (n == 0) return UpstreamError::kIo;
        if (errno == EINTR) continue;
        // Each wait is bounded by the whole round trip's limit, so running out of it means
        // the deadline has passed.
        if (errno == EAGAIN || errno == EWOULDBLOCK) return UpstreamError::kTimeout;
        return UpstreamError::kIo;
    }
}

bool UpstreamConnection::room_for(std::string& text, std::size_t needed) {
    if (needed <= text.capacity()) return true;
    std::size_t capacity = std::max(needed, 2 * text.capacity());
    if (may_grow_ && !may_grow_(capacity - text.capacity())) return false;
    text.reserve(capacity);
    return true;
}

UpstreamError UpstreamConnection::round_trip(const std::string& head, const std::string& body,
                                             bool head_request, Clock::time_point deadline,
                                             UpstreamResponse& out, GrowthCheck may_grow) {
    may_grow_ = std::move(may_grow);
    auto error = round_trip_once_or_twice(head, body, head_request, deadline, out);
    may_grow_ = nullptr;
    if (buffer_.capacity() > kKeptCapacity && buffer_.empty()) std::string().swap(buffer_);
    return error;
}

UpstreamError UpstreamConnection::round_trip_once_or_twice(const std::string& head,
                                                           const std::string& body,
                                                           bool head_request,
                                                           Clock::time_point deadline,
                                                           UpstreamResponse& out) {
    bool reused = fd_ >= 0;
    if (!reused) {
        if (auto error = connect_to(deadline); error != UpstreamError::kNone) return error;
    }
    bool got_bytes = false;
    auto error = exchange(head, body, head_request, deadline, out, got_bytes);
    if (error == UpstreamError::kIo && reused && !got_bytes) {
        // The upstream closed the idle connection as we reused it: nothing was answered, so
        // one fresh connection is the standard recovery (as browsers and curl do).
        reset();
        if (auto again = connect_to(deadline); again != UpstreamError::kNone) return again;
        got_bytes = false;
        error = exchange(head, body, head_request, deadline, out, got_bytes);
    }
    if (error != UpstreamError::kNone) reset();
    return error;
}

UpstreamError UpstreamConnection::exchange(const std::string& head, const std::string& body,
                                           bool head_request, Clock::time_point deadline,
                                           UpstreamResponse& out, bool& got_bytes) {
    out = UpstreamResponse{};
    buffer_.clear();
    iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                      {const_cast<char*>(body.data()), body.size()}};
    std::size_t total = head.size() + body.size();
    std::size_t sent = 0;
    while (sent < total) {
        msghdr message{};
        message.msg_iov = parts;
        message.msg_iovlen = 2;
        ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? UpstreamError::kTimeout
                                                             : UpstreamError::kIo;
        }
        sent += static_cast<std::size_t>(n);
        // Advance the two-part vector past what was written.
        std::size_t skip = static_cast<std::size_t>(n);
        for (auto& part : parts) {
            std::size_t take = std::min(skip, part.iov_len);
            part.iov_base = static_cast<char*>(part.iov_base) + take;
            part.iov_len -= take;
            skip -= take;
        }
    }

    // Status line and headers.
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (buffer_.size() > kMaxHeadBytes) return UpstreamError::kTooLarge;
        if (auto error = fill(deadline, got_bytes); error != UpstreamError::kNone) return error;
    }
    if (buffer_.compare(0, 7, "HTTP/1.") != 0 || buffer_.size() < 12)
        return UpstreamError::kBadResponse;
    out.status = std::atoi(buffer_.c_str() + 9);
    if (out.status < 100 || out.status > 999) return UpstreamError::kBadResponse;
    bool chunked = false;
    bool close_after = buffer_.compare(0, 8, "HTTP/1.0") == 0;
    long long content_length = -1;
    std::size_t line_start = buffer_.find("\r\n") + 2;
    while (line_start < head_end) {
        std::size_t line_end = buffer_.find("\r\n", line_start);
        std::size_t colon = buffer_.find(':', line_start);
        if (colon == std::string::npos || colon > line_end) return UpstreamError::kBadResponse;
        std::string name = buffer_.substr(line_start, colon - line_start);
        std::size_t value_start = buffer_.find_first_not_of(" \t", colon + 1);
        if (value_start > line_end) value_start = line_end;
        std::size_t value_end = line_end;
        while (value_end > value_start &&
               (buffer_[value_end - 1] == ' ' || buffer_[value_end - 1] == '\t'))
            --value_end;
        std::string value = buffer_.substr(value_start, value_end - value_start);
        if (iequals(name, "Content-Length")) {
            char* end = nullptr;
            long long parsed = std::strtoll(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || parsed < 0 ||
                (content_length >= 0 && parsed != content_length))
                return UpstreamError::kBadResponse;
            content_length = parsed;
        } else if (iequals(name, "Transfer-Encoding")) {
            if (!iequals(value, "chunked")) return UpstreamError::kBadResponse;
            chunked = true;
        } else if (iequals(name, "Connection") && iequals(value, "close")) {
            close_after = true;
        }
        out.headers.emplace_back(std::move(name), std::move(value));
        line_start = line_end + 2;
    }
    buffer_.erase(0, head_end + 4);

    bool no_body = head_request || out.status == 204 || out.status == 304 || out.status < 200;
    if (no_body) {
        // Nothing to read.
    } else if (chunked) {
        while (true) {
            std::size_t size_end;
            while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
                if (buffer_.size() > 1024) return UpstreamError::kBadResponse;
                if (auto error = fill(deadline, got_bytes); error != UpstreamError::kNone)
                    return error;
            }
            char* end = nullptr;
            unsigned long long size = std::strtoull(buffer_.c_str(), &end, 16);
            if (end == buffer_.c_str()) return UpstreamError::kBadResponse;
            if (out.body.size() + size > max_body_bytes_) return UpstreamError::kTooLarge;
            buffer_.erase(0, size_end + 2);
            if (size == 0) {
                // Trailers (ignored) end with an empty line.
                std::size_t trailer_end;
                while ((trailer_end = buffer_.find("\r\n")) != 0) {
                    if (trailer_end != std::string::npos) {
                        buffer_.erase(0, trailer_end + 2);
                        continue;
                    }
                    if (buffer_.size() > kMaxHeadBytes) return UpstreamError::kTooLarge;
                    if (auto error = fill(deadline, got_bytes); error != UpstreamError::kNone)
                        return error;
                }
                buffer_.erase(0, 2);
                break;
            }
            while (buffer_.size() < size + 2)
                if (auto error = fill(deadline, got_bytes); error != UpstreamError::kNone)
                    return error;
            if (!room_for(out.body, out.body.size() + size)) return UpstreamError::kOverBudget;
            out.body.append(buffer_, 0, size);
            buffer_.erase(0, size + 2);
        }
    } else if (content_length >= 0) {
        if (static_cast<std::uint64_t>(content_length) > max_body_bytes_)
            return UpstreamError::kTooLarge;
        while (buffer_.size() < static_cast<std::size_t>(content_length))
            if (auto error = fill(deadline, got_bytes); error != UpstreamError::kNone) return error;
        if (buffer_.size() == static_cast<std::size_t>(content_length)) {
            out.body = std::move(buffer_);  // The usual case: no copy of the body.
            buffer_.clear();
        } else {
            if (!room_for(out.body, static_cast<std::size_t>(content_length)))
                return UpstreamError::kOverBudget;
            out.body.assign(buffer_, 0, static_cast<std::size_t>(content_length));
            buffer_.erase(0, static_cast<std::size_t>(content_length));
        }
    } else {
        // No length: the body runs until the upstream closes.
        while (true) {
            if (buffer_.size() > max_body_bytes_) return UpstreamError::kTooLarge;
            auto error = fill(deadline, got_bytes);
            if (error == UpstreamError::kIo) break;
            if (error != UpstreamError::kNone) return error;
        }
        out.body = std::move(buffer_);
        close_after = true;
    }
    if (close_after || !buffer_.empty()) reset();  // Stray bytes: never reuse such a connection.
    return UpstreamError::kNone;
}

}  // namespace faas::watchdog
