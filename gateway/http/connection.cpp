// A client connection on an event loop.
#include "http/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "http_text.h"
#include "log.h"

namespace faas::gateway {
namespace {

constexpr std::size_t kReadChunk = 8 << 10;
/// A streamed body waits for the client once this much is queued: the worker blocks.
constexpr std::size_t kStreamQueueBytes = 256 << 10;

}  // namespace

// The line between a worker and the connection it answers: the worker posts its response and
// then the streamed body through it; the loop takes what is queued as the socket drains. The
// connection detaches itself when it closes, after which the worker's writes fail.
class BodyChannel final : public BodyWriter, public std::enable_shared_from_this<BodyChannel> {
  public:
    BodyChannel(EventLoop& loop, Connection* connection, std::chrono::nanoseconds stall_limit)
        : loop_(loop), connection_(connection), stall_limit_(stall_limit) {}

    // Worker thread.
    void post_response(Response&& response, bool streamed) {
        auto shared = std::make_shared<Response>(std::move(response));
        loop_.post([self = shared_from_this(), shared, streamed] {
            if (self->connection_ != nullptr)
                self->connection_->on_worker_response(std::move(*shared), streamed);
        });
    }
    bool write(std::string_view data) override {
        std::unique_lock lock(mutex_);
        if (!drained_.wait_for(lock, stall_limit_, [this] {
                return cancelled_ || pending_.size() < kStreamQueueBytes;
            })) {
            // The client has not read for write_timeout: the body is cut short, and it must not
            // end like a whole one.
            cut_short_ = true;
            wake_locked();
            return false;
        }
        if (cancelled_) return false;
        pending_.append(data);
        wake_locked();
        return true;
    }
    void finish() {
        std::lock_guard lock(mutex_);
        finished_ = true;
        wake_locked();
    }

    // Loop thread. `cut_short`: a write failed, so the body is incomplete.
    std::string take(bool& finished, bool& cut_short) {
        std::lock_guard lock(mutex_);
        std::string out;
        out.swap(pending_);
        finished = finished_;
        cut_short = cut_short_;
        woken_ = false;
        drained_.notify_all();
        return out;
    }
    void detach() {
        connection_ = nullptr;
        std::lock_guard lock(mutex_);
        cancelled_ = true;
        drained_.notify_all();
    }

  private:
    void wake_locked() {
        if (woken_ || cancelled_) return;
        woken_ = true;
        loop_.post([self = shared_from_this()] {
            if (self->connection_ != nullptr) self->connection_->pump_stream();
        });
    }

    EventLoop& loop_;
    Connection* connection_;  ///< Loop thread only.
    const std::chrono::nanoseconds stall_limit_;
    std::mutex mutex_;
    std::condition_variable drained_;
    std::string pending_;
    bool finished_ = false;
    bool cut_short_ = false;
    bool cancelled_ = false;
    bool woken_ = false;
};

void InBuffer::consume(std::size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
}

std::pair<char*, std::size_t> InBuffer::space(std::size_t n) {
    if (capacity_ - end_ < n) {
        const std::size_t used = end_ - start_;
        if (start_ > 0 && capacity_ - used >= n) {
            std::memmove(data_.get(), data_.get() + start_, used);
        } else {
            const std::size_t capacity = std::max(capacity_ * 2, used + n);
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

void InBuffer::shrink() {
    if (start_ == end_ && capacity_ > 4 * kReadChunk) {
        data_.reset();
        capacity_ = start_ = end_ = 0;
    }
}

Connection::Connection(ConnectionOwner& owner, int fd, std::string remote_addr,
                       const ServerOptions& options, RequestHandler& handler,
                       ElasticThreadPool& workers, MemoryBudget* budget)
    : owner_(owner),
      fd_(fd),
      remote_addr_(std::move(remote_addr)),
      options_(options),
      handler_(handler),
      workers_(workers),
      budget_(budget) {
    deadline_ = Clock::now() + options_.read_timeout;
}

Connection::~Connection() {
    if (stream_) stream_->detach();
    if (fd_ >= 0) ::close(fd_);
}

void Connection::on_events(std::uint32_t events) {
    if (state_ == State::kClosed) return;
    if (events & EPOLLERR) {
        if (state_ == State::kServing)
            broken_ = true;  // answered into the void once the handler is done
        else
            close();
        return;
    }
    if (events & EPOLLOUT) {
        writable_ = true;
        if (state_ == State::kWriting || state_ == State::kStreaming) flush();
    }
    if (state_ == State::kClosed) return;
    if (state_ == State::kServing && (events & (EPOLLRDHUP | EPOLLHUP))) peer_gone_ = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        readable_ = true;
        if (state_ == State::kReading || state_ == State::kReadingBody)
            advance();
        else if (state_ == State::kLingering)
            linger();
    }
}

void Connection::end_after_stop() {
    if (stream_) stream_->detach();
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void Connection::expire(Clock::time_point now) {
    switch (state_) {
        case State::kServing:
        case State::kClosed:
            return;
        case State::kStreaming:
            // Waiting for the worker is not the client's fault; a client not reading is.
            if (out_sent_ == out_.size() + out_body_.size()) return;
            break;
        default:
            break;
    }
    if (now >= deadline_) close();
}

void Connection::advance() {
    if (advancing_) return;  // respond() inside serve(): the loop below goes on
    advancing_ = true;
    while (state_ == State::kReading || state_ == State::kReadingBody) {
        const bool progressed = state_ == State::kReading ? start_request() : continue_body();
        if (progressed) continue;
        if (state_ != State::kReading && state_ != State::kReadingBody) break;
        if (!readable_ || !fill()) break;
    }
    advancing_ = false;
}

// Parses what is buffered; true when it started something (a body, a call, an answer).
bool Connection::start_request() {
    // RFC 9112 2.2: empty lines before a request line are skipped (some clients send a CRLF
    // after a POST body), a few of them.
    for (int skipped = 0; skipped < 4 && in_.unread().substr(0, 2) == "\r\n"; ++skipped)
        in_.consume(2);
    const std::string_view buffered = in_.unread();
    if (buffered.empty()) return false;
    Refusal refusal;
    switch (parse_request_head(buffered, options_.head_limits, head_, refusal)) {
        case HeadStatus::kIncomplete:
            start_read_clock();
            return false;
        case HeadStatus::kRefused:
            refuse(refusal.status, refusal.reason);
            return true;
        case HeadStatus::kComplete:
            break;
    }
    start_read_clock();
    // Refused as soon as the length is known: the body is never read, nor invited.
    if (head_.framing == BodyFraming::kLength && head_.content_length > options_.max_body_bytes) {
        refuse(413, "Request body too large.");
        return true;
    }
    if (head_.framing == BodyFraming::kNone) {
        request_bytes_ = head_.head_bytes;
        dispatch({});
        return true;
    }
    if (head_.framing == BodyFraming::kLength) {
        const std::size_t total = head_.head_bytes + static_cast<std::size_t>(head_.content_length);
        if (buffered.size() >= total) {  // the common case: the body came with its head
            request_bytes_ = total;
            dispatch(
                buffered.substr(head_.head_bytes, static_cast<std::size_t>(head_.content_length)));
            return true;
        }
    }
    // The body is still to come: keep the head apart from the read buffer, which may move. The
    // budget pays for the body as it arrives, not for what the head claims: a client that
    // declares a large body and sends nothing holds none of it.
    body_reservation_ = budget_ ? Reservation(*budget_) : Reservation();
    head_copy_.assign(buffered.substr(0, head_.head_bytes));
    in_.consume(head_.head_bytes);
    parse_request_head(head_copy_, options_.head_limits, head_, refusal);
    body_.clear();
    if (head_.framing == BodyFraming::kLength) {
        body_wanted_ = head_.content_length;
    } else {
        chunked_ = std::make_unique<ChunkedDecoder>(options_.max_body_bytes);
    }
    if (head_.expect_continue && head_.minor_version == 1 && in_.unread().empty()) send_continue();
    state_ = State::kReadingBody;
    return true;
}

// Moves what is buffered into the body; true when the request was dispatched or refused.
bool Connection::continue_body() {
    const std::string_view data = in_.unread();
    if (chunked_) {
        // Decoding never yields more bytes than it is given.
        if (!make_body_room(data.size())) return true;
        std::size_t used = 0;
        const auto status = chunked_->feed(data, body_, used);
        in_.consume(used);
        switch (status) {
            case ChunkedDecoder::Status::kDone:
                chunked_.reset();
                request_bytes_ = 0;
                dispatch(body_);
                return true;
            case ChunkedDecoder::Status::kMalformed:
                refuse(400, "Malformed chunked body.");
                return true;
            case ChunkedDecoder::Status::kTooLarge:
                refuse(413, "Request body too large.");
                return true;
            case ChunkedDecoder::Status::kNeedMore:
                return false;
        }
        return false;
    }
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(body_wanted_, data.size()));
    if (!make_body_room(take)) return true;
    body_.append(data.data(), take);
    in_.consume(take);
    body_wanted_ -= take;
    if (body_wanted_ > 0) return false;
    request_bytes_ = 0;
    dispatch(body_);
    return true;
}

// Grows the body's buffer for `more` bytes, paid from the budget first; false (and the request
// refused 503) when the budget is spent.
bool Connection::make_body_room(std::size_t more) {
    const std::size_t needed = body_.size() + more;
    if (needed <= body_.capacity()) return true;
    // Doubling, but never past what the body can be: its length, or the bound for chunked.
    const std::uint64_t ceiling =
        head_.framing == BodyFraming::kLength ? head_.content_length : options_.max_body_bytes;
    const std::uint64_t want =
        std::max<std::uint64_t>(needed, std::min<std::uint64_t>(body_.capacity() * 2, ceiling));
    if (want > body_reservation_.bytes() &&
        !body_reservation_.grow(want - body_reservation_.bytes())) {
        refuse(503, "The gateway is busy: too many request bodies in flight. Try again.");
        return false;
    }
    body_.reserve(static_cast<std::size_t>(want));
    return true;
}

void Connection::dispatch(std::string_view body) {
    reading_request_ = false;
    state_ = State::kServing;
    head_request_ = head_.method == "HEAD";
    minor_version_ = head_.minor_version;
    request_ = Request{&head_, body, remote_addr_, owner_.loop_index()};
    handler_.serve(*this);
}

// Reads what the socket has; false when the connection ended or nothing more came.
bool Connection::fill() {
    // Room for the rest of a body, but no more than 1 MiB ahead of what has arrived: a
    // Content-Length is a claim, not a reason to allocate.
    const std::size_t want =
        static_cast<std::size_t>(std::clamp<std::uint64_t>(body_wanted_, kReadChunk, 1 << 20));
    auto [at, room] = in_.space(want);
    const ssize_t n = ::recv(fd_, at, room, 0);
    if (n > 0) {
        in_.commit(static_cast<std::size_t>(n));
        // A short read drained the socket; with edge triggering the next byte is a new event.
        if (static_cast<std::size_t>(n) < room) readable_ = false;
        return true;
    }
    if (n < 0 && errno == EINTR) return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        readable_ = false;
        if (state_ == State::kReading && !reading_request_ && in_.unread().empty()) {
            deadline_ = Clock::now() + options_.keep_alive_timeout;
            in_.shrink();
        }
        return false;
    }
    close();  // the client went away (0) or the socket failed
    return false;
}

void Connection::refuse(int status, std::string_view reason) {
    reading_request_ = false;
    chunked_.reset();
    body_reservation_.reset();
    state_ = State::kServing;
    head_request_ = false;
    minor_version_ = 1;
    head_.keep_alive = false;
    request_bytes_ = 0;
    Response response = Response::text(status, reason);
    response.close = true;
    respond(std::move(response));
}

void Connection::send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    // Sent before any response bytes, into an empty socket buffer: a short write means the
    // socket is broken, and the read that follows finds that out.
    [[maybe_unused]] const ssize_t n =
        ::send(fd_, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
}

void Connection::write_head(const Response& response, bool streamed) {
    const int status = response.status;
    const bool bodiless = status < 200 || status == 204 || status == 304;
    char number[24];
    out_.clear();
    out_sent_ = 0;
    out_.append("HTTP/1.1 ");
    out_.append(number, std::to_chars(number, number + sizeof number, status).ptr);
    out_.push_back(' ');
    out_.append(reason_phrase(status));
    out_.append("\r\n");
    for (const auto& [name, value] : response.headers)
        out_.append(name).append(": ").append(value).append("\r\n");
    if (!bodiless && !head_request_) {
        if (!streamed) {
            out_.append("Content-Length: ");
            out_.append(number,
                        std::to_chars(number, number + sizeof number, response.body.size()).ptr);
            out_.append("\r\n");
        } else if (minor_version_ == 1) {
            out_.append("Transfer-Encoding: chunked\r\n");
            stream_chunked_ = true;
        } else {
            close_after_write_ = true;  // an HTTP/1.0 client reads the body until the close
        }
    }
    if (close_after_write_)
        out_.append("Connection: close\r\n");
    else if (minor_version_ == 0)
        out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
}

void Connection::respond(Response&& response) {
    if (state_ != State::kServing) return;
    close_after_write_ = response.close || !head_.keep_alive || broken_;
    write_head(response, false);
    const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
    // The body is sent from where it is, after the head, in the same sendmsg: a function's
    // answer of many megabytes is not copied once more.
    if (!bodiless && !head_request_)
        out_body_ = std::move(response.body);
    else
        out_body_.clear();
    out_reservation_ = std::move(response.reservation);
    // write_timeout bounds writing the whole response, as Go's WriteTimeout does.
    deadline_ = Clock::now() + options_.write_timeout;
    // The request's bytes are done with: its views are not used after this.
    in_.consume(request_bytes_);
    request_bytes_ = 0;
    if (broken_) {
        close();
        return;
    }
    state_ = State::kWriting;
    flush();
}

void Connection::respond_from_worker(std::function<Response()> job) {
    stream_ = std::make_shared<BodyChannel>(owner_.event_loop(), this, options_.write_timeout);
    workers_.enqueue([job = std::move(job), channel = stream_] {
        Response response = job();
        auto produce = std::move(response.stream);
        response.stream = nullptr;
        channel->post_response(std::move(response), produce != nullptr);
        if (!produce) return;
        produce(*channel);
        channel->finish();
    });
}

void Connection::on_worker_response(Response&& response, bool streamed) {
    if (state_ != State::kServing) return;
    if (!streamed) {
        stream_.reset();
        respond(std::move(response));
        return;
    }
    close_after_write_ = response.close || !head_.keep_alive || broken_;
    stream_chunked_ = false;
    stream_ended_ = false;
    write_head(response, true);
    out_body_.clear();
    in_.consume(request_bytes_);
    request_bytes_ = 0;
    deadline_ = Clock::now() + options_.write_timeout;
    if (broken_) {
        close();
        return;
    }
    const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
    if (head_request_ || bodiless) {
        stream_->detach();  // nothing of it may be sent: the worker stops at its first write
        stream_.reset();
        state_ = State::kWriting;
    } else {
        state_ = State::kStreaming;
    }
    flush();
}

void Connection::pump_stream() {
    if (state_ != State::kStreaming || !stream_) return;
    if (out_sent_ < out_.size() + out_body_.size()) return;  // flush() calls again when done
    bool finished = false;
    bool cut_short = false;
    std::string data = stream_->take(finished, cut_short);
    if (cut_short) {
        // Closed without the last chunk (or, to HTTP/1.0, before the length it never had was
        // reached): the client sees an error, not a silently truncated body.
        close();
        return;
    }
    out_.clear();
    out_body_.clear();
    out_sent_ = 0;
    if (!data.empty()) {
        if (stream_chunked_) {
            char size[20];
            auto end = std::to_chars(size, size + sizeof size, data.size(), 16).ptr;
            out_.append(size, end).append("\r\n");
            out_body_ = std::move(data);
            out_body_.append("\r\n");
        } else {
            out_body_ = std::move(data);
        }
    }
    if (finished) {
        stream_ended_ = true;
        if (stream_chunked_) out_body_.append("0\r\n\r\n");
    }
    if (out_.empty() && out_body_.empty()) {
        // The end came on its own, after the last data went out: to an HTTP/1.0 client (no last
        // chunk to send) the answer ends here, with the close.
        if (stream_ended_) finish_response();
        return;
    }
    deadline_ = Clock::now() + options_.write_timeout;
    flush();
}

void Connection::flush() {
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
        const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
        if (n > 0) {
            out_sent_ += static_cast<std::size_t>(n);
            if (state_ == State::kStreaming) deadline_ = Clock::now() + options_.write_timeout;
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
    if (state_ == State::kStreaming && !stream_ended_) {
        pump_stream();  // whatever the worker queued meanwhile
        return;
    }
    finish_response();
}

void Connection::finish_response() {
    if (out_.capacity() > 4 * kReadChunk) std::string().swap(out_);
    std::string().swap(out_body_);
    out_sent_ = 0;
    out_reservation_.reset();
    body_reservation_.reset();
    stream_.reset();
    if (body_.capacity() > 4 * kReadChunk) std::string().swap(body_);
    head_copy_.clear();
    if (close_after_write_) {
        // Unread request bytes would turn close() into a reset that can destroy the answer on
        // its way; stop sending and read until the client closes, within bounds.
        ::shutdown(fd_, SHUT_WR);
        state_ = State::kLingering;
        lingered_ = 0;
        deadline_ = Clock::now() + options_.linger_timeout;
        readable_ = true;
        linger();
        return;
    }
    state_ = State::kReading;
    deadline_ = Clock::now() + options_.keep_alive_timeout;
    advance();
}

void Connection::linger() {
    char sink[16 << 10];
    while (readable_) {
        const ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
        if (n > 0) {
            lingered_ += static_cast<std::uint64_t>(n);
            if (lingered_ > options_.linger_bytes) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            readable_ = false;
            return;
        }
        break;
    }
    close();
}

// read_timeout bounds the whole request, head and body, as Go's ReadTimeout does for OpenFaaS:
// a client trickling a byte at a time does not keep extending it.
void Connection::start_read_clock() {
    if (reading_request_) return;
    reading_request_ = true;
    deadline_ = Clock::now() + options_.read_timeout;
}

void Connection::close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    if (stream_) stream_->detach();
    owner_.close_connection(this);
}

}  // namespace faas::gateway
