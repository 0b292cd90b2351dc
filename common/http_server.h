// What every cpp-httplib server of ours needs beyond the library's defaults: a listen backlog
// that survives bursts of connections, a thread per connection up to a bound, Nagle off, and a
// way to answer and then close a connection whose request body was not read.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <string_view>

#include "http_text.h"
#include "thread_pool.h"

namespace faas {

/// cpp-httplib's task queue, backed by an ElasticThreadPool (thread_pool.h).
class ElasticTaskQueue final : public httplib::TaskQueue {
  public:
    ElasticTaskQueue(std::size_t min_threads, std::size_t max_threads)
        : pool_(min_threads, max_threads) {}
    void enqueue(std::function<void()> job) override { pool_.enqueue(std::move(job)); }
    void shutdown() override { pool_.shutdown(); }

  private:
    ElasticThreadPool pool_;
};

struct ServerTuning {
    std::size_t min_threads = 4;  ///< Threads kept when idle.
    std::size_t threads = 64;     ///< Connections served at once; more wait in the backlog.
    int backlog = 1024;           ///< The library's compiled-in 5 drops SYNs under load.
    std::size_t keep_alive_max_requests = 100000;
    time_t keep_alive_timeout_seconds = 5;
};

/// Applies `tuning` to `server` (call before binding).
void tune_server(httplib::Server& server, const ServerTuning& tuning);

/// Binds `host:port` (port 0 picks a free one) with the tuned backlog. Returns the bound port,
/// or -1 when the address cannot be bound.
int bind_server(httplib::Server& server, const std::string& host, int port, int backlog);

/// Sets a response that is written in full and then closes the connection. Needed whenever the
/// request body was (or may have been) left unread: keeping the connection would make the
/// server parse the body as the next request and desynchronise a proxy that pools connections.
void respond_and_close(httplib::Response& res, int status, std::string body,
                       const std::string& content_type = "text/plain; charset=utf-8");

/// RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has an empty body.
/// cpp-httplib 0.11.4 instead reads a POST, PUT or PATCH body until the client closes, so a
/// plain `curl -X POST` would wait for read_timeout. Call it from the pre-routing handler,
/// before the body is read: it states the empty length for the library.
void settle_missing_length(const httplib::Request& req);

/// True for the methods cpp-httplib parses; it refuses any other request line with a 400.
bool is_httplib_method(std::string_view method);

/// True for the headers cpp-httplib adds to every request itself (REMOTE_ADDR and friends).
bool is_synthetic_header(const std::string& name);

}  // namespace faas
