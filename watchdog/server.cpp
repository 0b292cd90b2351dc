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
#include "lingering_close.h"
#include "log.h"
#include "request_guard.h"
#include "settings.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;

// One request's bookkeeping between cpp-httplib's hooks, which all run on the thread serving
// the connection: the Expect handler or pre-routing opens it, the logger (called after every
// response, once it is written) closes it.
struct RequestScope {
    bool open = false;
    Clock::time_point started;
    std::atomic<int>* in_flight_slot = nullptr;
    /// Refused before the body was read; a route answers it and then drains the body.
    std::optional<Rejection> rejection;
    /// A handler of ours set the response (anything else with an error status is the library's).
    bool answered = false;
    /// Buffered bytes this request holds: its body, its output until written.
    Reservation memory;
};
thread_local RequestScope t_scope;

const char* const kHealthPath = "/_/health";

bool is_health_probe(const httplib::Request& req) {
    return req.path == kHealthPath && (req.method == "GET" || req.method == "HEAD");
}

// The methods cpp-httplib hands to a content-reader route, which can drain a refused body.
bool has_body_route(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::uint64_t declared_length(const httplib::Request& req) {
    if (!req.has_header("Content-Length")) return 0;
    return std::stoull(req.get_header_value("Content-Length"));  // Digits: checked by the guard.
}

Rejection budget_rejection() {
    return Rejection{503, "The watchdog's buffers are full (max_buffered_bytes); retry later.\n",
                     true};
}

}  // namespace

WatchdogServer::WatchdogServer(Config config)
    : config_(std::move(config)),
      budget_(config_.max_buffered_bytes),
      fork_handler_(config_, process_environment()),
      proxy_(config_) {
    if (config_.mode == Mode::kHttp)
        upstream_ = std::make_unique<UpstreamProcess>(config_, process_environment());
    install_hooks();
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

void WatchdogServer::open_scope(const httplib::Request& req) {
    t_scope = RequestScope{};
    t_scope.open = true;
    t_scope.started = Clock::now();
    t_scope.memory = Reservation(budget_);
    metrics_.request_started();
    if (!is_health_probe(req)) t_scope.rejection = admit(req);
}

std::optional<Rejection> WatchdogServer::admit(const httplib::Request& req) {
    if (auto rejection = check_request(req, config_.max_request_bytes)) return rejection;
    if (config_.max_inflight > 0) {
        if (in_flight_.fetch_add(1) >= config_.max_inflight) {
            in_flight_.fetch_sub(1);
            return Rejection{429,
                             "Concurrent request limit exceeded. Max concurrent requests: " +
                                 std::to_string(config_.max_inflight) + "\n",
                             true};
        }
        t_scope.in_flight_slot = &in_flight_;
    }
    // A declared body is paid for before a byte of it is read; with nothing left, even a
    // request without one is refused, since its output would have nowhere to go.
    if (config_.mode != Mode::kStreaming) {
        if (budget_.in_use() >= budget_.limit()) return budget_rejection();
        if (!t_scope.memory.grow(declared_length(req))) return budget_rejection();
    }
    return std::nullopt;
}

void WatchdogServer::install_hooks() {
    ServerTuning tuning;
    tuning.threads =
        std::max<std::size_t>(512, static_cast<std::size_t>(config_.max_inflight) + 64);
    tune_server(server_, tuning);
    server_.set_read_timeout(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.read_timeout));
    server_.set_write_timeout(
        std::chrono::duration_cast<std::chrono::microseconds>(config_.write_timeout));

    // Runs before "100 Continue" would be sent: a request refused anyway is answered now, so
    // the client never sends the body (and never sees 100 Continue first).
    server_.set_expect_100_continue_handler(
        [this](const httplib::Request& req, httplib::Response& res) {
            open_scope(req);
            if (!t_scope.rejection) return 100;
            respond_and_close(res, t_scope.rejection->status, t_scope.rejection->message);
            t_scope.answered = true;
            return t_scope.rejection->status;
        });

    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!t_scope.open) open_scope(req);
        // The function's output is the answer as it stands: no byte ranges cut out of it.
        // cpp-httplib 0.11.4 parses Range into this public field before any hook of ours runs
        // and offers no other way to ignore it (RFC 9110 lets a server ignore Range); the
        // request is the library's own non-const object, and only this field is touched.
        const_cast<httplib::Request&>(req).ranges.clear();
        if (is_health_probe(req)) return httplib::Server::HandlerResponse::Unhandled;
        const auto& rejection = t_scope.rejection;
        if (rejection && !(rejection->body_readable && has_body_route(req.method))) {
            // Nothing can read this body safely: answer and close without it.
            respond_and_close(res, rejection->status, rejection->message);
            t_scope.answered = true;
            return httplib::Server::HandlerResponse::Handled;
        }
        // Also for a refused request, so its drain reads the empty body RFC 9112 implies.
        settle_missing_length(req);
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
        if (t_scope.answered) return httplib::Server::HandlerResponse::Unhandled;
        // The library gave up on an admitted request by itself (a body it could not read): the
        // stream's position is unknown, so the connection cannot be reused.
        respond_and_close(res, res.status, "Cannot read the request body.\n");
        return httplib::Server::HandlerResponse::Handled;
    }));

    // The function has finished once the response is about to be written: free its slot now,
    // so a client that sends its next request as soon as it has the answer is not refused.
    server_.set_post_routing_handler([](const httplib::Request&, httplib::Response&) {
        if (t_scope.in_flight_slot) t_scope.in_flight_slot->fetch_sub(1);
        t_scope.in_flight_slot = nullptr;
    });

    // Called once the response is written: what the request buffered goes back to the budget.
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        auto now = Clock::now();
        double seconds =
            t_scope.open ? std::chrono::duration<double>(now - t_scope.started).count() : 0.0;
        metrics_.record(req.method, res.status, seconds);
        if (t_scope.open) metrics_.request_ended();
        if (t_scope.in_flight_slot) t_scope.in_flight_slot->fetch_sub(1);
        t_scope = RequestScope{};
    });
}

void WatchdogServer::install_routes() {
    server_.Get(kHealthPath, [this](const httplib::Request&, httplib::Response& res) {
        t_scope.answered = true;
        if (healthy()) {
            res.set_content("OK", "text/plain");
        } else {
            res.status = 503;
            res.set_content("Service Unavailable", "text/plain");
        }
    });
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
        t_scope.answered = true;
        serve_function(req, res, nullptr);
    });
    auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
        t_scope.answered = true;
        if (const auto& rejection = t_scope.rejection) {
            answer_then_drain(res, rejection->status, rejection->message, reader, drain_size(req));
            return;
        }
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
    if (config_.mode == Mode::kStreaming) {
        fork_handler_.serve_streaming(req, res, reader);
        return;
    }
    // A declared length was paid for on admission; a chunked body pays as it grows.
    BudgetedBuffer body(t_scope.memory, config_.max_request_bytes, declared_length(req));
    if (reader) {
        std::optional<Rejection> refused;
        DrainLimit drain;
        bool read = (*reader)([&](const char* data, std::size_t size) {
            if (refused) return drain.take(size);
            if (body.size() + size > config_.max_request_bytes) {
                refused = Rejection{413,
                                    "Request body is larger than max_request_bytes (" +
                                        std::to_string(config_.max_request_bytes) + " bytes).\n",
                                    true};
            } else if (!body.append(data, size)) {
                refused = budget_rejection();
            }
            // A chunked body cannot be picked up again once left: the rest is read and dropped
            // here, within bounds, so that the client gets to read the answer.
            return !refused || drain.take(size);
        });
        if (refused) {
            respond_and_close(res, refused->status, refused->message);
            return;
        }
        if (!read) {
            respond_and_close(res, 400, "Cannot read the request body.\n");
            return;
        }
    }
    if (config_.mode == Mode::kHttp) {
        if (!upstream_->ready()) {
            res.status = 503;
            res.set_content("Function is not ready: its upstream is not accepting connections.\n",
                            "text/plain");
            return;
        }
        proxy_.forward(req, body.str(), res, t_scope.memory);
        return;
    }
    fork_handler_.serve_buffered(req, res, body.str(), t_scope.memory);
}

bool WatchdogServer::start() {
    port_ = bind_server(server_, config_.bind_address, config_.port, 1024);
    if (port_ < 0) {
        faas::log_line("Cannot listen on " + config_.bind_address + " port " +
                       std::to_string(config_.port));
        return false;
    }
    metrics_port_ = bind_server(metrics_server_, config_.bind_address, config_.metrics_port, 64);
    if (metrics_port_ < 0) {
        faas::log_line("Cannot listen on " + config_.bind_address + " metrics_port " +
                       std::to_string(config_.metrics_port));
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
    // The gateway's local provider reads the port from this exact line.
    faas::log_line("Listening on port: " + std::to_string(port_));
    if (config_.bind_address != "0.0.0.0")
        faas::log_line("Listening on address: " + config_.bind_address);
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
