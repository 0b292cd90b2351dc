// Wiring of fwatchdog's servers and request lifecycle.
#include "server.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "cgi_env.h"
#include "child_process.h"
#include "http_server.h"
#include "log.h"
#include "request_guard.h"
#include "settings.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;

// One request's bookkeeping between cpp-httplib's hooks, which all run on the thread serving
// the connection: pre-routing opens it, the logger (called after every response) closes it.
struct RequestScope {
    bool open = false;
    Clock::time_point started;
    std::atomic<int>* in_flight_slot = nullptr;
};
thread_local RequestScope t_scope;

const char* const kHealthPath = "/_/health";

}  // namespace

WatchdogServer::WatchdogServer(Config config)
    : config_(std::move(config)), fork_handler_(config_, process_environment()), proxy_(config_) {
    if (config_.mode == Mode::http)
        upstream_ = std::make_unique<UpstreamProcess>(config_, process_environment());
    install_routes();
}

WatchdogServer::~WatchdogServer() {
    server_.stop();
    metrics_server_.stop();
    if (metrics_thread_.joinable()) metrics_thread_.join();
}

bool WatchdogServer::healthy() const {
    if (draining_) return false;
    if (!config_.suppress_lock && ::access(config_.lock_path.c_str(), F_OK) != 0) return false;
    if (upstream_ && !upstream_->ready()) return false;
    return true;
}

void WatchdogServer::install_routes() {
    ServerTuning tuning;
    tuning.threads =
        std::max<std::size_t>(512, static_cast<std::size_t>(config_.max_inflight) + 64);
    tune_server(server_, tuning);
    server_.set_read_timeout(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.read_timeout));
    server_.set_write_timeout(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.write_timeout));

    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        t_scope = RequestScope{true, Clock::now(), nullptr};
        metrics_.request_started();
        // The function's output is the answer as it stands: no byte ranges cut out of it.
        const_cast<httplib::Request&>(req).ranges.clear();
        if (req.path == kHealthPath && (req.method == "GET" || req.method == "HEAD"))
            return httplib::Server::HandlerResponse::Unhandled;
        if (auto rejection = check_request(req, config_.max_request_bytes)) {
            respond_and_close(res, rejection->status, rejection->message);
            return httplib::Server::HandlerResponse::Handled;
        }
        settle_missing_length(req);
        if (config_.max_inflight > 0) {
            if (in_flight_.fetch_add(1) >= config_.max_inflight) {
                in_flight_.fetch_sub(1);
                respond_and_close(res, 429,
                                  "Concurrent request limit exceeded. Max concurrent requests: " +
                                      std::to_string(config_.max_inflight) + "\n");
                return httplib::Server::HandlerResponse::Handled;
            }
            t_scope.in_flight_slot = &in_flight_;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                      httplib::Response& res) {
        if (!t_scope.open) {
            // cpp-httplib refused the request before routing: a request line or header section
            // it could not take. It would keep the connection; we close it, as RFC 9112 asks.
            bool line_ok = is_httplib_method(req.method) &&
                           (req.version == "HTTP/1.1" || req.version == "HTTP/1.0");
            if (res.status == 400 && line_ok) {
                respond_and_close(res, 431, "Request header fields too large.\n");
            } else if (res.status == 400 && !req.method.empty() && !is_httplib_method(req.method) &&
                       (req.version == "HTTP/1.1" || req.version == "HTTP/1.0")) {
                respond_and_close(res, 405, "Method " + req.method + " is not allowed.\n");
            } else {
                respond_and_close(res, res.status, "Bad request.\n");
            }
            return httplib::Server::HandlerResponse::Handled;
        }
        if (res.body.empty() && !res.is_chunked_content_provider_ && res.content_length_ == 0) {
            // A body cpp-httplib could not read (broken chunking, client gone): the stream's
            // position is unknown, so the connection cannot be reused.
            respond_and_close(res, res.status, "Cannot read the request body.\n");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    }));

    // The function has finished once the response is about to be written: free its slot now,
    // so a client that sends its next request as soon as it has the answer is not refused.
    server_.set_post_routing_handler([](const httplib::Request&, httplib::Response&) {
        if (t_scope.in_flight_slot) t_scope.in_flight_slot->fetch_sub(1);
        t_scope.in_flight_slot = nullptr;
    });

    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        auto now = Clock::now();
        double seconds =
            t_scope.open ? std::chrono::duration<double>(now - t_scope.started).count() : 0.0;
        metrics_.record(req.method, res.status, seconds);
        if (t_scope.open) metrics_.request_ended();
        if (t_scope.in_flight_slot) t_scope.in_flight_slot->fetch_sub(1);
        t_scope = RequestScope{};
    });

    server_.Get(kHealthPath, [this](const httplib::Request&, httplib::Response& res) {
        if (healthy()) {
            res.set_content("OK", "text/plain");
        } else {
            res.status = 503;
            res.set_content("Service Unavailable", "text/plain");
        }
    });
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
        serve_function(req, res, nullptr);
    });
    auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
        serve_function(req, res, &reader);
    };
    server_.Post(".*", with_body);
    server_.Put(".*", with_body);
    server_.Patch(".*", with_body);
    server_.Delete(".*", with_body);

    ServerTuning metrics_tuning;
    metrics_tuning.min_threads = 1;
    metrics_tuning.threads = 8;
    tune_server(metrics_server_, metrics_tuning);
    metrics_server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.serialize(), "text/plain; version=0.0.4; charset=utf-8");
    });
}

void WatchdogServer::serve_function(const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader* reader) {
    if (config_.mode == Mode::streaming) {
        fork_handler_.serve_streaming(req, res, reader);
        return;
    }
    std::string body;
    if (reader) {
        bool too_large = false;
        bool read = (*reader)([&](const char* data, std::size_t size) {
            if (body.size() + size > config_.max_request_bytes) {
                too_large = true;
                return false;
            }
            body.append(data, size);
            return true;
        });
        if (too_large) {
            respond_and_close(res, 413,
                              "Request body is larger than max_request_bytes (" +
                                  std::to_string(config_.max_request_bytes) + " bytes).\n");
            return;
        }
        if (!read) {
            respond_and_close(res, 400, "Cannot read the request body.\n");
            return;
        }
    }
    if (config_.mode == Mode::http) {
        if (!upstream_->ready()) {
            res.status = 503;
            res.set_content("Function is not ready: its upstream is not accepting connections.\n",
                            "text/plain");
            return;
        }
        proxy_.forward(req, body, res);
        return;
    }
    fork_handler_.serve_buffered(req, res, body);
}

bool WatchdogServer::start() {
    port_ = bind_server(server_, "0.0.0.0", config_.port, 1024);
    if (port_ < 0) {
        faas::log_line("Cannot listen on port " + std::to_string(config_.port));
        return false;
    }
    metrics_port_ = bind_server(metrics_server_, "0.0.0.0", config_.metrics_port, 64);
    if (metrics_port_ < 0) {
        faas::log_line("Cannot listen on metrics_port " + std::to_string(config_.metrics_port));
        return false;
    }
    faas::log_line("Forking - " + config_.fprocess + " (mode: " + to_string(config_.mode) + ")");
    faas::log_line("Timeouts: read: " + format_duration(config_.read_timeout) +
                   ", write: " + format_duration(config_.write_timeout) +
                   " hard: " + format_duration(config_.exec_timeout) + ".");
    if (!config_.suppress_lock) {
        faas::log_line("Writing lock-file to: " + config_.lock_path);
        int fd = ::open(config_.lock_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
        if (fd < 0) {
            faas::log_line("Cannot write lock-file " + config_.lock_path + ": " +
                           std::strerror(errno));
            return false;
        }
        ::close(fd);
    }
    if (upstream_) upstream_->start();
    faas::log_line("Listening on port: " + std::to_string(port_));
    faas::log_line("Metrics listening on port: " + std::to_string(metrics_port_));
    metrics_thread_ = std::thread([this] { metrics_server_.listen_after_bind(); });
    return true;
}

void WatchdogServer::request_drain() {
    {
        std::lock_guard<std::mutex> lock(drain_mutex_);
        drain_wanted_ = true;
    }
    drain_requested_.notify_all();
}

void WatchdogServer::run() {
    std::thread drainer([this] {
        std::unique_lock<std::mutex> lock(drain_mutex_);
        drain_requested_.wait(lock, [this] { return drain_wanted_ || served_; });
        if (served_) return;
        lock.unlock();
        drain();
    });
    server_.listen_after_bind();  // Returns once stopped and every connection has finished.
    {
        std::lock_guard<std::mutex> lock(drain_mutex_);
        served_ = true;
    }
    drain_requested_.notify_all();
    drainer.join();
    metrics_server_.stop();
    if (metrics_thread_.joinable()) metrics_thread_.join();
    if (upstream_) upstream_->stop();
    faas::log_line("Shutdown complete");
}

void WatchdogServer::drain() {
    faas::log_line("SIGTERM received; draining");
    if (!config_.suppress_lock) ::unlink(config_.lock_path.c_str());
    draining_ = true;
    // Keep serving while health fails, so whatever balances load has time to notice.
    if (config_.healthcheck_interval.count() > 0) {
        faas::log_line("Waiting " + format_duration(config_.healthcheck_interval) +
                       " (healthcheck_interval)");
        std::this_thread::sleep_for(config_.healthcheck_interval);
    }
    // Stop accepting; listen_after_bind() returns when every accepted connection is done.
    // Past write_timeout we stop waiting and end the children still running.
    server_.stop();
    auto deadline = Clock::now() + config_.write_timeout;
    while (Clock::now() < deadline) {
        if (server_.is_running() == false) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    faas::log_line("Drain exceeded write_timeout; ending the requests still running");
    ChildProcess::kill_all_groups();
    std::_Exit(0);
}

}  // namespace faas::watchdog
