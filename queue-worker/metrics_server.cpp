// Serving the queue worker's metrics.
#include "metrics_server.h"

#include <chrono>

#include "http_server.h"

namespace faas::queue_worker {

MetricsServer::MetricsServer(const WorkerMetrics& metrics) {
    ServerTuning tuning;
    tuning.min_threads = 1;
    tuning.threads = 4;  // Prometheus and a curl or two: no more is needed.
    tune_server(server_, tuning);
    server_.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.serialize(), "text/plain; version=0.0.4; charset=utf-8");
    });
}

MetricsServer::~MetricsServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
}

bool MetricsServer::start(const std::string& host, int port) {
    port_ = bind_server(server_, host, port, 64);
    if (port_ < 0) return false;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib's stop() does nothing until the listening loop has begun: wait for it (briefly),
    // so that a stop right after the start is not lost.
    for (int i = 0; i < 2000 && !server_.is_running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return true;
}

}  // namespace faas::queue_worker
