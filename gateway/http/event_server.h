// The gateway's front door: one epoll loop per core accepts connections (SO_REUSEPORT) and
// reads every request with the one strict parser (http/request_head.h). The handler answers
// on the loop (function calls) or has a worker thread produce the answer (the admin API),
// which then goes back out through the loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/event_loop.h"
#include "http/message.h"
#include "http/server_options.h"
#include "thread_pool.h"

namespace faas::gateway {

class EventServer {
  public:
    /// `budget` (optional) bounds the request bodies buffered at once, with the responses.
    EventServer(ServerOptions options, RequestHandler& handler, MemoryBudget* budget = nullptr);
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
    ServerOptions options_;
    RequestHandler& handler_;
    MemoryBudget* budget_;
    std::vector<std::unique_ptr<Loop>> loops_;
    ElasticThreadPool workers_;
};

}  // namespace faas::gateway
