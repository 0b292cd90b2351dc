// What every cpp-httplib server of ours needs beyond the library's defaults: a listen backlog
// that survives bursts of connections, a thread per connection up to a bound, Nagle off, and a
// way to answer and then close a connection whose request body was not read.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace faas {

/// A task queue for cpp-httplib that starts threads only when every thread is busy, up to
/// `max_threads`, and lets idle ones go: a watchdog at rest keeps a handful of threads, and a
/// burst of keep-alive connections still gets one thread each.
class ElasticThreadPool final : public httplib::TaskQueue {
  public:
    ElasticThreadPool(std::size_t min_threads, std::size_t max_threads);
    ~ElasticThreadPool() override;
    void enqueue(std::function<void()> job) override;
    /// Runs every queued job, then returns once every thread has finished.
    void shutdown() override;

  private:
    void work();

    std::size_t min_threads_;
    std::size_t max_threads_;
    std::mutex mutex_;
    std::condition_variable has_job_;
    std::condition_variable all_done_;
    std::deque<std::function<void()>> jobs_;
    std::size_t threads_ = 0;
    std::size_t idle_ = 0;
    bool shutting_down_ = false;
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

/// Case-insensitive comparison of HTTP field names (ASCII only: std::tolower would consult the
/// locale for every character).
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

/// An RFC 9110 token (a method or a field name): one or more of A-Z a-z 0-9 !#$%&'*+-.^_`|~
bool is_token(std::string_view text);

/// A field value without control characters other than tab (CR, LF and NUL among them).
bool is_field_value(std::string_view text);

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
