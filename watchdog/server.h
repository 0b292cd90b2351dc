// fwatchdog's HTTP front: the function port (every path but /_/health belongs to the function),
// the metrics port, the lock file, and the SIGTERM drain.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "config.h"
#include "fork_handler.h"
#include "http_proxy.h"
#include "memory_budget.h"
#include "metrics.h"
#include "request_guard.h"
#include "upstream_process.h"

namespace faas::watchdog {

class WatchdogServer {
  public:
    explicit WatchdogServer(Config config);
    ~WatchdogServer();
    WatchdogServer(const WatchdogServer&) = delete;
    WatchdogServer& operator=(const WatchdogServer&) = delete;

    /// Binds both ports, writes the lock file, starts the http-mode upstream. False (with a log
    /// line saying why) when it cannot.
    bool start();
    int port() const { return port_; }
    int metrics_port() const { return metrics_port_; }
    /// Serves until a drain has finished.
    void run();
    /// What SIGTERM does: remove the lock and fail health, keep serving for
    /// healthcheck_interval so load balancers notice, stop accepting, let in-flight requests
    /// finish (bounded by write_timeout). Returns at once; run() returns when it is done.
    void request_drain();
    bool healthy() const;

  private:
    void install_hooks();
    void install_routes();
    /// Starts a request's bookkeeping and decides whether it is refused before its body.
    void open_scope(const httplib::Request& req);
    std::optional<Rejection> admit(const httplib::Request& req);
    void serve_function(const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader* reader);
    void drain();

    Config config_;
    Metrics metrics_;
    MemoryBudget budget_;
    ForkHandler fork_handler_;
    HttpProxy proxy_;
    std::unique_ptr<UpstreamProcess> upstream_;
    httplib::Server server_;
    httplib::Server metrics_server_;
    int port_ = -1;
    int metrics_port_ = -1;
    std::atomic<int> in_flight_{0};
    std::atomic<bool> draining_{false};
    std::mutex drain_mutex_;
    std::condition_variable drain_requested_;
    bool drain_wanted_ = false;
    bool served_ = false;  ///< The function server has stopped.
    std::thread metrics_thread_;
};

}  // namespace faas::watchdog
