// The gateway's front door: one epoll loop per core accepts connections (SO_REUSEPORT) and
// serves the requests its handler claims (function calls) without a thread switch. Anything
// else, and any request the strict parser does not recognise, is handed with its connection
// to a worker thread that runs it through cpp-httplib, and the connection comes back to its
// loop afterwards.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "event_loop.h"
#include "http_server.h"
#include "proxy.h"
#include "request_head.h"

namespace faas::gateway {

struct EventServerOptions {
    std::size_t loops = 0;  ///< 0: one per core.
    std::chrono::nanoseconds read_timeout = std::chrono::seconds(10);
    std::chrono::nanoseconds write_timeout = std::chrono::seconds(10);
    std::chrono::nanoseconds keep_alive_timeout = std::chrono::seconds(5);
    /// Larger bodies are handed off (and answered 413 there).
    std::uint64_t max_body_bytes = 64ULL << 20;
    HeadLimits head_limits;
    std::size_t handoff_threads = 64;
};

struct LoopResponse {
    int status = 200;
    /// Sent as given; the server adds Content-Length (except to HEAD requests, whose
    /// headers may carry their own) and Connection: close when it closes.
    HeaderList headers;
    std::string body;
    bool close = false;
};

/// A request served on a loop. Its views stay valid until respond().
struct LoopExchange {
    const RequestHead* head = nullptr;
    std::string_view body;
    std::string_view remote_addr;
    std::size_t loop_index = 0;
    /// Loop thread only, exactly once per request.
    std::function<void(LoopResponse&&)> respond;
};

class EventServerHandler {
  public:
    /// Loop thread: true to serve `head` on the loop with serve(); false hands the connection
    /// to serve_handed_off() on a worker thread.
    virtual bool claims(const RequestHead& head) = 0;
    virtual void serve(LoopExchange& exchange) = 0;
    /// Worker thread: one request read from `stream`. Returns false, or sets
    /// `connection_closed`, to end the connection.
    virtual bool serve_handed_off(httplib::Stream& stream, bool& connection_closed) = 0;

  protected:
    ~EventServerHandler() = default;
};

class EventServer {
  public:
    EventServer(EventServerOptions options, EventServerHandler& handler);
    ~EventServer();
    EventServer(const EventServer&) = delete;
    EventServer& operator=(const EventServer&) = delete;

    /// Binds host:port (0 picks a free port) once per loop. Returns the port, or -1.
    int bind(const std::string& host, int port, int backlog);
    std::size_t loop_count() const { return loops_.size(); }
    EventLoop& loop(std::size_t index);

    /// Serves until stop(); then closes every connection.
    void run();
    /// Any thread: stops accepting and ends run().
    void stop();

    struct Loop;  ///< A loop with its listening socket and connections (event_server.cpp).

  private:
    EventServerOptions options_;
    EventServerHandler& handler_;
    std::vector<std::unique_ptr<Loop>> loops_;
    ElasticThreadPool handoff_pool_;
};

}  // namespace faas::gateway
