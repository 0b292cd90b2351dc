// Connections on epoll loops, and the hand-off to cpp-httplib.
#include "event_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "log.h"

namespace faas::gateway {
namespace {

using Clock = EventLoop::Clock;
constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::size_t kReadChunk = 8 << 10;
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr auto kSweepInterval = std::chrono::milliseconds(250);

const char* reason_phrase(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 203:
            return "Non-Authoritative Information";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

// The text form of an IPv4 or IPv6 socket address, and its port.
void describe(const sockaddr_storage& address, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    port = 0;
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        port = ntohs(v6->sin6_port);
    }
    ip = text;
}

bool wait_for(int fd, short events, std::chrono::nanoseconds timeout) {
    pollfd entry{fd, events, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    while (true) {
        int ready = ::poll(&entry, 1, static_cast<int>(std::max<long long>(ms, 1)));
        if (ready < 0 && errno == EINTR) continue;
        return ready > 0;
    }
}

// The connection as cpp-httplib sees it during a hand-off: the bytes the loop had already
// read come first, then the socket (non-blocking, so every read or write waits with poll
// for at most the configured timeout). Reads are buffered, since httplib reads a request
// head one byte at a time; what is left over goes back to the loop.
class HandoffStream final : public httplib::Stream {
  public:
    HandoffStream(int fd, std::string pending, std::string remote_addr, int remote_port,
                  std::chrono::nanoseconds read_timeout, std::chrono::nanoseconds write_timeout)
        : fd_(fd),
          pending_(std::move(pending)),
          remote_addr_(std::move(remote_addr)),
          remote_port_(remote_port),
          read_timeout_(read_timeout),
          write_timeout_(write_timeout) {}

    bool is_readable() const override {
        return offset_ < pending_.size() || wait_for(fd_, POLLIN, read_timeout_);
    }
    bool is_writable() const override { return wait_for(fd_, POLLOUT, write_timeout_); }

    ssize_t read(char* ptr, size_t size) override {
        if (offset_ == pending_.size()) {
            pending_.clear();
            offset_ = 0;
            if (size >= kReadChunk) return receive(ptr, size);  // bodies: straight through
            pending_.resize(kReadChunk);
            ssize_t n = receive(pending_.data(), pending_.size());
            pending_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
            if (n <= 0) return n;
        }
        std::size_t n = std::min(size, pending_.size() - offset_);
        std::memcpy(ptr, pending_.data() + offset_, n);
        offset_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        std::size_t sent = 0;
        while (sent < size) {
            ssize_t n = ::send(fd_, ptr + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait_for(fd_, POLLOUT, write_timeout_)) return -1;
            } else {
                return -1;
            }
        }
        return static_cast<ssize_t>(sent);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = remote_addr_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        ip.clear();
        port = 0;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
        describe(address, ip, port);
    }
    socket_t socket() const override { return fd_; }

    /// Bytes read from the socket and not consumed by httplib (a pipelined next request).
    std::string leftover() { return pending_.substr(offset_); }

  private:
    ssize_t receive(char* ptr, std::size_t size) {
        while (true) {
            ssize_t n = ::recv(fd_, ptr, size, 0);
            if (n >= 0) return n;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            if (!wait_for(fd_, POLLIN, read_timeout_)) return -1;
        }
    }

    int fd_;
    std::string pending_;
    std::size_t offset_ = 0;
    std::string remote_addr_;
    int remote_port_;
    std::chrono::nanoseconds read_timeout_;
    std::chrono::nanoseconds write_timeout_;
};

// A read buffer without std::string's zero-filling on growth.
class InBuffer {
  public:
    std::string_view unread() const { return {data_.get() + start_, end_ - start_}; }
    void consume(std::size_t n) {
        start_ += n;
        if (start_ == end_) start_ = end_ = 0;
    }
    /// Room for at least `n` more bytes at the end.
    std::pair<char*, std::size_t> space(std::size_t n) {
        if (capacity_ - end_ < n) {
            const std::size_t used = end_ - start_;
            if (start_ > 0 && capacity_ - used >= n) {
                std::memmove(data_.get(), data_.get() + start_, used);
            } else {
                std::size_t capacity = std::max(capacity_ * 2, used + n);
                auto bigger = std::make_unique<char[]>(capacity);
                if (used) std::memcpy(bigger.get(), data_.get() + start_, used);
                data_ = std::move(bigger);
                capacity_ = capacity;
            }
            start_ = 0;
            end_ = used;
        }
        return {data_.get() + end_, capacity_ - end_};
    }
    void commit(std::size_t n) { end_ += n; }
    void assign(std::string_view bytes) {
        start_ = end_ = 0;
        if (bytes.empty()) return;  // the buffer may be gone (shrink), and memcpy wants one
        auto [at, room] = space(bytes.size());
        (void)room;
        std::memcpy(at, bytes.data(), bytes.size());
        end_ = bytes.size();
    }
    /// Gives back memory a large request left behind, once nothing is buffered.
    void shrink() {
        if (start_ == end_ && capacity_ > 4 * kReadChunk) {
            data_.reset();
            capacity_ = start_ = end_ = 0;
        }
    }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t start_ = 0;
    std::size_t end_ = 0;
};

}  // namespace

class Connection;

struct EventServer::Loop final : EventLoop::Watcher {
    EventServer* server = nullptr;
    std::size_t index = 0;
    EventLoop loop;
    int listen_fd = -1;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
    EventLoop::Timer sweep;
    /// Out of descriptors: the listening socket leaves the loop until then, or a level-
    /// triggered accept would spin.
    Clock::time_point accept_paused_until = Clock::time_point::min();
    std::thread thread;

    void on_events(std::uint32_t events) override;  // the listening socket
    void close_connection(Connection* connection);
    ~Loop();
};

class Connection final : public EventLoop::Watcher {
  public:
    Connection(EventServer::Loop& owner, int fd, std::string remote_addr, int remote_port,
               const EventServerOptions& options, EventServerHandler& handler,
               ElasticThreadPool& pool)
        : owner_(owner),
          fd_(fd),
          remote_addr_(std::move(remote_addr)),
          remote_port_(remote_port),
          options_(options),
          handler_(handler),
          pool_(pool) {
        deadline_ = Clock::now() + options_.read_timeout;
        exchange_.remote_addr = remote_addr_;
        exchange_.loop_index = owner_.index;
        exchange_.head = &head_;
        exchange_.respond = [this](LoopResponse&& response) { respond(std::move(response)); };
    }
    ~Connection() {
        if (fd_ >= 0) ::close(fd_);
    }

    int fd() const { return fd_; }

    void on_events(std::uint32_t events) override {
        if (state_ == State::kClosed || state_ == State::kHandedOff) return;
        if (events & EPOLLERR) {
            if (state_ == State::kServing)
                broken_ = true;  // answered into the void once the call ends
            else
                close();
            return;
        }
        if (events & EPOLLOUT) {
            writable_ = true;
            if (state_ == State::kWriting) flush();
        }
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
            readable_ = true;
            if (state_ == State::kReading)
                advance();
            else if (state_ == State::kLingering)
                linger();
        }
    }

    /// After the loop stopped: the client sees the connection end now, not when the server
    /// object goes. A handed-off connection belongs to its worker until the pool stops.
    void end_after_stop() {
        if (state_ != State::kHandedOff && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    }

    /// Called by the sweep: ends connections past their deadline.
    void expire(Clock::time_point now) {
        if (state_ == State::kServing || state_ == State::kHandedOff || state_ == State::kClosed)
            return;
        if (now >= deadline_) close();
    }

  private:
    enum class State { kReading, kServing, kWriting, kLingering, kHandedOff, kClosed };

    void advance() {
        if (advancing_) return;  // respond() inside serve(): the loop below goes on
        advancing_ = true;
        while (state_ == State::kReading) {
            if (start_request()) continue;
            if (state_ != State::kReading) break;
            if (!readable_ || !fill()) break;
        }
        advancing_ = false;
    }

    // Parses what is buffered; true when it started something (a call, an answer, a hand-off).
    bool start_request() {
        const std::string_view buffered = in_.unread();
        if (buffered.empty()) return false;
        switch (parse_request_head(buffered, options_.head_limits, head_)) {
            case HeadStatus::kIncomplete:
                start_read_clock();
                return false;
            case HeadStatus::kTooLarge:
                send_and_close(431, "Request header fields too large\n");
                return true;
            case HeadStatus::kHandOff:
                hand_off();
                return true;
            case HeadStatus::kComplete:
                break;
        }
        if (head_.content_length > options_.max_body_bytes || !handler_.claims(head_)) {
            hand_off();
            return true;
        }
        const std::size_t total = head_.head_bytes + static_cast<std::size_t>(head_.content_length);
        if (buffered.size() < total) {
            wanted_ = total;
            start_read_clock();
            return false;
        }
        wanted_ = 0;
        reading_request_ = false;
        request_bytes_ = total;
        exchange_.body =
            buffered.substr(head_.head_bytes, static_cast<std::size_t>(head_.content_length));
        state_ = State::kServing;
        handler_.serve(exchange_);
        return true;
    }

    // Reads what the socket has; false when the connection ended or nothing more came.
    bool fill() {
        // Room for the rest of a body, but no more than 1 MiB ahead of what has arrived: a
        // Content-Length is a claim, not a reason to allocate.
        const std::size_t missing =
            wanted_ > in_.unread().size() ? wanted_ - in_.unread().size() : 0;
        const std::size_t want = std::clamp<std::size_t>(missing, kReadChunk, 1 << 20);
        auto [at, room] = in_.space(want);
        ssize_t n = ::recv(fd_, at, room, 0);
        if (n > 0) {
            in_.commit(static_cast<std::size_t>(n));
            // A short read drained the socket; with edge triggering the next byte is a new event.
            if (static_cast<std::size_t>(n) < room) readable_ = false;
            return true;
        }
        if (n < 0 && errno == EINTR) return true;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            readable_ = false;
            if (in_.unread().empty()) {
                deadline_ = Clock::now() + options_.keep_alive_timeout;
                in_.shrink();
            }
            return false;
        }
        close();  // the client went away (0) or the socket failed
        return false;
    }

    void respond(LoopResponse&& response) {
        if (state_ != State::kServing) return;
        const bool closing = response.close || !head_.keep_alive || broken_;
        const bool head_request = head_.method == "HEAD";
        const int status = response.status;
        const bool bodiless = status < 200 || status == 204 || status == 304;

        out_.clear();
        out_sent_ = 0;
        char number[24];
        out_.append("HTTP/1.1 ");
        out_.append(number, std::to_chars(number, number + sizeof number, status).ptr);
        out_.push_back(' ');
        out_.append(reason_phrase(status));
        out_.append("\r\n");
        for (const auto& [name, value] : response.headers) {
            out_.append(name).append(": ").append(value).append("\r\n");
        }
        if (!bodiless && !head_request) {
            out_.append("Content-Length: ");
            out_.append(number,
                        std::to_chars(number, number + sizeof number, response.body.size()).ptr);
            out_.append("\r\n");
        }
        if (closing) out_.append("Connection: close\r\n");
        out_.append("\r\n");
        // The body is sent from where it is, after the head, in the same writev: a function's
        // answer of many megabytes is not copied once more.
        if (!bodiless && !head_request)
            out_body_ = std::move(response.body);
        else
            out_body_.clear();
        // write_timeout bounds writing the whole response, as Go's WriteTimeout does.
        deadline_ = Clock::now() + options_.write_timeout;

        // The request's bytes are done with: its views are not used after this.
        in_.consume(request_bytes_);
        request_bytes_ = 0;
        close_after_write_ = closing;
        if (broken_) {
            close();
            return;
        }
        state_ = State::kWriting;
        flush();
    }

    void send_and_close(int status, std::string body) {
        state_ = State::kServing;
        head_.keep_alive = false;
        head_.method = "GET";
        LoopResponse response;
        response.status = status;
        response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
        response.body = std::move(body);
        response.close = true;
        respond(std::move(response));
    }

    void flush() {
        const std::size_t total = out_.size() + out_body_.size();
        while (out_sent_ < total) {
            iovec parts[2];
            int count = 0;
            if (out_sent_ < out_.size())
                parts[count++] = {out_.data() + out_sent_, out_.size() - out_sent_};
            const std::size_t body_sent = out_sent_ > out_.size() ? out_sent_ - out_.size() : 0;
            if (body_sent < out_body_.size())
                parts[count++] = {out_body_.data() + body_sent, out_body_.size() - body_sent};
            msghdr message{};
            message.msg_iov = parts;
            message.msg_iovlen = static_cast<std::size_t>(count);
            ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
            if (n > 0) {
                out_sent_ += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                writable_ = false;
                return;
            }
            close();
            return;
        }
        if (out_.capacity() > 4 * kReadChunk) std::string().swap(out_);
        std::string().swap(out_body_);
        if (close_after_write_) {
            // Unread request bytes would turn close() into a reset that can destroy the answer
            // on its way; stop sending and read until the client closes (or a short while).
            ::shutdown(fd_, SHUT_WR);
            state_ = State::kLingering;
            deadline_ = Clock::now() + kLingerTimeout;
            readable_ = true;
            linger();
            return;
        }
        state_ = State::kReading;
        deadline_ = Clock::now() + options_.keep_alive_timeout;
        advance();
    }

    void linger() {
        char sink[4096];
        while (readable_) {
            ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                readable_ = false;
                return;
            }
            close();
            return;
        }
    }

    // read_timeout bounds the whole request, head and body, as Go's ReadTimeout does for
    // OpenFaaS: a client trickling a byte at a time does not keep extending it.
    void start_read_clock() {
        if (reading_request_) return;
        reading_request_ = true;
        deadline_ = Clock::now() + options_.read_timeout;
    }

    void hand_off() {
        reading_request_ = false;
        state_ = State::kHandedOff;
        owner_.loop.remove(fd_);
        std::string pending(in_.unread());
        in_.consume(pending.size());
        in_.shrink();
        const int fd = fd_;
        auto& owner = owner_;
        auto& handler = handler_;
        auto read_timeout = options_.read_timeout;
        auto write_timeout = options_.write_timeout;
        pool_.enqueue([this, fd, &owner, &handler, pending = std::move(pending),
                       remote = remote_addr_, port = remote_port_, read_timeout,
                       write_timeout]() mutable {
            HandoffStream stream(fd, std::move(pending), std::move(remote), port, read_timeout,
                                 write_timeout);
            bool closed = false;
            bool keep = false;
            try {
                keep = handler.serve_handed_off(stream, closed) && !closed;
            } catch (const std::exception& e) {
                log_line(std::string("Internal error: ") + e.what());
            }
            owner.loop.post([this, keep, leftover = stream.leftover()] { resume(keep, leftover); });
        });
    }

    void resume(bool keep, const std::string& leftover) {
        if (!keep) {
            close();
            return;
        }
        in_.assign(leftover);
        state_ = State::kReading;
        readable_ = true;  // whatever arrived meanwhile raised no event we saw
        writable_ = true;
        deadline_ = Clock::now() + options_.keep_alive_timeout;
        if (!owner_.loop.add(fd_, kConnectionEvents, this)) {
            close();
            return;
        }
        advance();
    }

    void close() {
        if (state_ == State::kClosed) return;
        state_ = State::kClosed;
        owner_.close_connection(this);
    }

    EventServer::Loop& owner_;
    int fd_;
    std::string remote_addr_;
    int remote_port_;
    const EventServerOptions& options_;
    EventServerHandler& handler_;
    ElasticThreadPool& pool_;

    State state_ = State::kReading;
    bool readable_ = false;
    bool writable_ = true;
    bool advancing_ = false;
    bool broken_ = false;
    bool close_after_write_ = false;
    bool reading_request_ = false;  ///< The read_timeout clock runs for a request begun.
    Clock::time_point deadline_;
    InBuffer in_;
    std::size_t wanted_ = 0;
    std::size_t request_bytes_ = 0;
    RequestHead head_;
    LoopExchange exchange_;
    std::string out_;       ///< Status line and headers.
    std::string out_body_;  ///< The body, moved from the response.
    std::size_t out_sent_ = 0;
};

void EventServer::Loop::on_events(std::uint32_t) {
    // Level-triggered: take what is waiting now, a bounded batch so one burst of connections
    // cannot hold up the calls already on this loop.
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_line(
                    "Cannot accept connections for a while: out of file descriptors or memory");
                loop.remove(listen_fd);
                accept_paused_until = Clock::now() + std::chrono::milliseconds(500);
            }
            return;  // EAGAIN, or paused
        }
        int yes = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        std::string ip;
        int port = 0;
        describe(address, ip, port);
        auto connection =
            std::make_unique<Connection>(*this, fd, std::move(ip), port, server->options_,
                                         server->handler_, server->handoff_pool_);
        Connection* raw = connection.get();
        if (!loop.add(fd, kConnectionEvents, raw)) {
            log_line("Cannot watch a new connection: " + std::string(std::strerror(errno)));
            continue;  // the connection's destructor closes it
        }
        connections.emplace(raw, std::move(connection));
    }
}

void EventServer::Loop::close_connection(Connection* connection) {
    loop.remove(connection->fd());
    auto it = connections.find(connection);
    if (it == connections.end()) return;
    auto owned = std::move(it->second);
    connections.erase(it);
    // Later events of this batch may still name it: free it after the batch.
    loop.defer([doomed = std::shared_ptr<Connection>(std::move(owned))] {});
}

EventServer::Loop::~Loop() {
    connections.clear();
    if (listen_fd >= 0) ::close(listen_fd);
}

EventServer::EventServer(EventServerOptions options, EventServerHandler& handler)
    : options_(options),
      handler_(handler),
      handoff_pool_(2, std::max<std::size_t>(2, options.handoff_threads)) {
    std::size_t count = options_.loops;
    if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>();
        loop->server = this;
        loop->index = i;
        Loop* raw = loop.get();
        loop->sweep.fire = [raw] {
            const auto now = Clock::now();
            std::vector<Connection*> all;
            all.reserve(raw->connections.size());
            for (auto& [connection, owned] : raw->connections) all.push_back(connection);
            for (Connection* connection : all) connection->expire(now);
            if (raw->accept_paused_until != Clock::time_point::min() &&
                now >= raw->accept_paused_until) {
                raw->accept_paused_until = Clock::time_point::min();
                if (!raw->loop.add(raw->listen_fd, EPOLLIN, raw))
                    raw->accept_paused_until = now + std::chrono::milliseconds(500);
            }
            raw->sweep.deadline = now + kSweepInterval;
        };
        loop->sweep.deadline = Clock::now() + kSweepInterval;
        loop->loop.add_timer(&loop->sweep);
        loops_.push_back(std::move(loop));
    }
}

EventServer::~EventServer() {
    stop();
    for (auto& loop : loops_)
        if (loop->thread.joinable()) loop->thread.join();
    // Hand-offs still running finish (bounded by the timeouts) before their connections go.
    handoff_pool_.shutdown();
}

int EventServer::bind(const std::string& host, int port, int backlog) {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        length = sizeof(sockaddr_in6);
    } else {
        return -1;
    }
    auto set_port = [&](int value) {
        if (address.ss_family == AF_INET)
            v4->sin_port = htons(static_cast<std::uint16_t>(value));
        else
            v6->sin6_port = htons(static_cast<std::uint16_t>(value));
    };
    // SO_REUSEPORT would let a second gateway (the same user's) bind beside a running one and
    // take half its connections. A plain bind first fails as it always did when the port is
    // taken, and picks the port when asked for 0.
    int bound_port = port;
    {
        int probe = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) return -1;
        int yes = 1;
        ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        set_port(port);
        if (::bind(probe, reinterpret_cast<sockaddr*>(&address), length) != 0) {
            ::close(probe);
            return -1;
        }
        sockaddr_storage actual{};
        socklen_t actual_length = sizeof actual;
        ::getsockname(probe, reinterpret_cast<sockaddr*>(&actual), &actual_length);
        std::string ip;
        describe(actual, ip, bound_port);
        ::close(probe);
    }
    for (auto& loop : loops_) {
        int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        // One listening socket per loop: the kernel spreads new connections over the loops.
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
        set_port(bound_port);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(fd, backlog) != 0) {
            ::close(fd);
            return -1;
        }
        loop->listen_fd = fd;
        if (!loop->loop.add(fd, EPOLLIN, loop.get())) return -1;
    }
    return bound_port;
}

EventLoop& EventServer::loop(std::size_t index) {
    return loops_[index]->loop;
}

void EventServer::run() {
    for (std::size_t i = 1; i < loops_.size(); ++i)
        loops_[i]->thread = std::thread([loop = loops_[i].get()] { loop->loop.run(); });
    loops_[0]->loop.run();
    for (std::size_t i = 1; i < loops_.size(); ++i)
        if (loops_[i]->thread.joinable()) loops_[i]->thread.join();
    // Every loop has stopped: nothing else touches their connections now.
    for (auto& loop : loops_) {
        if (loop->listen_fd >= 0) {
            ::close(loop->listen_fd);
            loop->listen_fd = -1;
        }
        for (auto& [connection, owned] : loop->connections) connection->end_after_stop();
    }
}

void EventServer::stop() {
    for (auto& loop : loops_) loop->loop.stop();
}

}  // namespace faas::gateway
