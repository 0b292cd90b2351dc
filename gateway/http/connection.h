// One client connection on an event loop: reads requests (head, then a Content-Length or
// chunked body, answering Expect: 100-continue), hands each to the handler, writes the answer
// (whole, or streamed from a worker) and keeps the connection for the next request, or closes
// it gracefully: after an early answer it half-closes and drains what the client still sends
// for a bounded time and size, so the client reads the answer instead of a reset.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/chunked_body.h"
#include "http/event_loop.h"
#include "http/message.h"
#include "http/server_options.h"
#include "thread_pool.h"

namespace faas::gateway {

class BodyChannel;

/// What a connection needs of the loop that owns it.
class ConnectionOwner {
  public:
    virtual EventLoop& event_loop() = 0;
    virtual std::size_t loop_index() const = 0;
    /// Frees `connection` once the events being handled are done with it.
    virtual void close_connection(class Connection* connection) = 0;

  protected:
    ~ConnectionOwner() = default;
};

/// A read buffer without std::string's zero-filling on growth.
class InBuffer {
  public:
    std::string_view unread() const { return {data_.get() + start_, end_ - start_}; }
    void consume(std::size_t n);
    /// Room for at least `n` more bytes at the end (may move what is buffered).
    std::pair<char*, std::size_t> space(std::size_t n);
    void commit(std::size_t n) { end_ += n; }
    /// Gives back memory a large request left behind, once nothing is buffered.
    void shrink();

  private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t start_ = 0;
    std::size_t end_ = 0;
};

class Connection final : public EventLoop::Watcher, private Exchange {
  public:
    using Clock = EventLoop::Clock;

    Connection(ConnectionOwner& owner, int fd, std::string remote_addr,
               const ServerOptions& options, RequestHandler& handler, ElasticThreadPool& workers,
               MemoryBudget* budget);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    int fd() const { return fd_; }
    void on_events(std::uint32_t events) override;
    /// Called by the loop's sweep: ends connections past their deadline.
    void expire(Clock::time_point now);
    /// After the loop stopped: the client sees the connection end now, and a worker streaming
    /// into it stops.
    void end_after_stop();

    /// Loop thread: a worker's answer to respond_from_worker; `streamed` when its body follows
    /// through the channel.
    void on_worker_response(Response&& response, bool streamed);
    /// Loop thread: a streamed body has more to send (or has ended).
    void pump_stream();

  private:
    enum class State {
        kReading,
        kReadingBody,
        kServing,
        kWriting,
        kStreaming,
        kLingering,
        kClosed
    };

    // Exchange
    const Request& request() const override { return request_; }
    void respond(Response&& response) override;
    void respond_from_worker(std::function<Response()> job) override;
    bool client_gone() const override { return broken_ || peer_gone_; }

    void advance();
    bool start_request();
    bool continue_body();
    bool make_body_room(std::size_t more);
    void dispatch(std::string_view body);
    bool fill();
    void refuse(int status, std::string_view reason);
    void write_head(const Response& response, bool streamed);
    void flush();
    void finish_response();
    void linger();
    void start_read_clock();
    void send_continue();
    void close();

    ConnectionOwner& owner_;
    int fd_;
    std::string remote_addr_;
    const ServerOptions& options_;
    RequestHandler& handler_;
    ElasticThreadPool& workers_;
    MemoryBudget* budget_;

    State state_ = State::kReading;
    bool readable_ = false;
    bool writable_ = true;
    bool advancing_ = false;
    bool broken_ = false;
    bool peer_gone_ = false;  ///< The client hung up while its request was served.
    bool close_after_write_ = false;
    bool reading_request_ = false;  ///< The read_timeout clock runs for a request begun.
    Clock::time_point deadline_;
    InBuffer in_;
    std::size_t request_bytes_ = 0;  ///< Bytes of in_ the request in service views.
    RequestHead head_;
    Request request_;

    // A body that did not arrive with its head: the head is copied and the body gathered.
    std::string head_copy_;
    std::string body_;
    std::uint64_t body_wanted_ = 0;  ///< Content-Length still to come.
    std::unique_ptr<ChunkedDecoder> chunked_;
    Reservation body_reservation_;

    std::string out_;       ///< Status line and headers (and stream chunks).
    std::string out_body_;  ///< The body, moved from the response.
    std::size_t out_sent_ = 0;
    Reservation out_reservation_;
    std::shared_ptr<BodyChannel> stream_;
    bool stream_chunked_ = false;
    bool stream_ended_ = false;
    bool head_request_ = false;  ///< The request in service is a HEAD: no body goes back.
    int minor_version_ = 1;
    std::uint64_t lingered_ = 0;
};

}  // namespace faas::gateway
