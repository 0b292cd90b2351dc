// Forwarding to the http-mode upstream.
#include "http_proxy.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "http_server.h"
#include "http_text.h"
#include "log.h"
#include "upstream_client.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::nanoseconds round_trip_limit(const Config& config) {
    return config.exec_timeout.count() > 0 ? config.exec_timeout : config.write_timeout;
}

UpstreamConnection& thread_connection(const Config& config) {
    // cpp-httplib serves each connection on one thread, so a connection per thread gives every
    // client connection its own warm connection to the upstream, with no locking.
    thread_local std::unique_ptr<UpstreamConnection> connection;
    if (!connection)
        connection = std::make_unique<UpstreamConnection>(
            config.upstream.host, config.upstream.port, config.max_response_bytes,
            std::chrono::duration_cast<std::chrono::milliseconds>(round_trip_limit(config)));
    return *connection;
}

}  // namespace

HttpProxy::HttpProxy(const Config& config) : config_(config) {}

void HttpProxy::forward(const httplib::Request& req, const std::string& body,
                        httplib::Response& res, Reservation& memory) const {
    auto started = Clock::now();
    std::string head;
    head.reserve(256 + req.target.size());
    head.append(req.method)
        .append(" ")
        .append(config_.upstream.base_path)
        .append(req.target)
        .append(" HTTP/1.1\r\n");
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name) || is_hop_by_hop(name) || iequals(name, "Content-Length"))
            continue;
        head.append(name).append(": ").append(value).append("\r\n");
    }
    if (!req.has_header("Host")) head.append("Host: ").append(config_.upstream.host).append("\r\n");
    if (!body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
        head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    head.append("\r\n");

    UpstreamResponse answer;
    auto error = thread_connection(config_).round_trip(
        head, body, false, started + round_trip_limit(config_), answer,
        [&memory](std::size_t bytes) { return memory.grow(bytes); });
    auto elapsed = Clock::now() - started;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%f", std::chrono::duration<double>(elapsed).count());
    res.set_header("X-Duration-Seconds", seconds);
    switch (error) {
        case UpstreamError::kNone:
            break;
        case UpstreamError::kTimeout:
            faas::log_line("Upstream timed out after " + std::string(seconds) + "s");
            res.status = 504;
            res.set_content("Function timed out.\n", "text/plain");
            return;
        case UpstreamError::kOverBudget:
            faas::log_line("Upstream response dropped: max_buffered_bytes is spent");
            res.status = 503;
            res.set_content("The watchdog's buffers are full (max_buffered_bytes); retry later.\n",
                            "text/plain");
            return;
        default:
            faas::log_line(std::string("Upstream request failed: ") + to_string(error));
            res.status = 502;
            res.set_content(std::string("Bad response from the function's upstream: ") +
                                to_string(error) + "\n",
                            "text/plain");
            return;
    }
    res.status = answer.status;
    for (auto& [name, value] : answer.headers) {
        if (is_hop_by_hop(name) || iequals(name, "Content-Length")) continue;
        res.headers.emplace(std::move(name), std::move(value));
    }
    res.body = std::move(answer.body);
}

}  // namespace faas::watchdog
