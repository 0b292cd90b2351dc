// The queue worker's GET /metrics on its metrics_port: a small cpp-httplib server of its own,
// with a few threads, apart from the calls.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

#include "metrics.h"

namespace faas::queue_worker {

class MetricsServer {
  public:
    /// `metrics` must outlive the server.
    explicit MetricsServer(const WorkerMetrics& metrics);
    /// Stops serving and joins the server's thread.
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// Binds host:port (0: a free port) and serves on a thread of its own; false when the
    /// address cannot be bound.
    bool start(const std::string& host, int port);
    /// The bound port; -1 before a successful start().
    int port() const { return port_; }

  private:
    httplib::Server server_;
    int port_ = -1;
    std::thread thread_;
};

}  // namespace faas::queue_worker
