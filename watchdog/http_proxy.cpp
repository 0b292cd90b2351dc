// Forwarding to the http-mode upstream.
#include "http_proxy.h"

#include <strings.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "http_server.h"
#include "log.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;

httplib::Client& thread_client(const Config& config) {
    // cpp-httplib serves each connection on one thread, so a client per thread gives every
    // connection to the watchdog its own warm connection to the upstream, with no locking.
    thread_local std::unique_ptr<httplib::Client> client;
    if (!client) {
        client = std::make_unique<httplib::Client>(config.upstream.host, config.upstream.port);
        client->set_keep_alive(true);
        client->set_tcp_nodelay(true);
        client->set_url_encode(false);
        client->set_connection_timeout(std::chrono::seconds(2));
        auto limit = config.exec_timeout.count() > 0 ? config.exec_timeout : config.write_timeout;
        client->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(limit));
        client->set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(config.write_timeout));
    }
    return *client;
}

}  // namespace

bool is_hop_by_hop(const std::string& name) {
    for (const char* hop : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                            "Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization"})
        if (strcasecmp(name.c_str(), hop) == 0) return true;
    return false;
}

HttpProxy::HttpProxy(const Config& config) : config_(config) {}

void HttpProxy::forward(const httplib::Request& req, const std::string& body, httplib::Response& res) const {
    auto started = Clock::now();
    httplib::Request upstream;
    upstream.method = req.method;
    upstream.path = config_.upstream.base_path + req.target;
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name) || is_hop_by_hop(name) || strcasecmp(name.c_str(), "Content-Length") == 0)
            continue;
        upstream.headers.emplace(name, value);
    }
    upstream.body = body;
    if (!body.empty() && !upstream.has_header("Content-Type"))
        upstream.set_header("Content-Type", "application/octet-stream");

    auto result = thread_client(config_).send(upstream);
    auto elapsed = Clock::now() - started;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%f", std::chrono::duration<double>(elapsed).count());
    res.set_header("X-Duration-Seconds", seconds);
    if (!result) {
        auto limit = config_.exec_timeout.count() > 0 ? config_.exec_timeout : config_.write_timeout;
        bool timed_out = result.error() == httplib::Error::Read && elapsed >= limit * 9 / 10;
        thread_client(config_).stop();  // The connection's state is unknown: never reuse it.
        if (timed_out) {
            faas::log_line("Upstream timed out after " + std::string(seconds) + "s");
            res.status = 504;
            res.set_content("Function timed out.\n", "text/plain");
        } else {
            faas::log_line("Upstream request failed: " + httplib::to_string(result.error()));
            res.status = 502;
            res.set_content("Cannot reach the function's upstream: " + httplib::to_string(result.error()) + "\n",
                            "text/plain");
        }
        return;
    }
    res.status = result->status;
    for (const auto& [name, value] : result->headers) {
        if (is_hop_by_hop(name) || strcasecmp(name.c_str(), "Content-Length") == 0) continue;
        res.headers.emplace(name, value);
    }
    res.body = std::move(result->body);
}

}  // namespace faas::watchdog
