// The queue worker's settings, read once at start-up from the environment (OpenFaaS's
// queue-worker names where they exist) so that a bad value stops the program with one clear
// line before it takes a call.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "env.h"
#include "retry_policy.h"

namespace faas::queue_worker {

struct Config {
    std::string nats_url = "nats://127.0.0.1:4222";
    /// Where calls are made: <gateway_url>/function/<name><path>?<query>.
    std::string gateway_url = "http://127.0.0.1:8080";
    /// The named queue this worker serves (com.openfaas.queue).
    std::string queue;
    /// Calls made at once by this worker.
    int max_inflight = 8;
    /// A delivered call not acknowledged within this is delivered again (to any worker); while
    /// a call runs the worker renews it every ack_wait / 3. Every worker of a queue must agree.
    std::chrono::milliseconds ack_wait = std::chrono::seconds(30);
    /// One attempt at a call, connect to last byte; no answer within it counts as status 0.
    std::chrono::milliseconds upstream_timeout = std::chrono::minutes(5);
    queue::RetryPolicy retry;
    /// Attempts at delivering one callback, the first included.
    int max_callback_attempts = 5;
    /// The record bucket's TTL, used when the worker is the one to create the bucket.
    std::chrono::milliseconds call_record_ttl = std::chrono::hours(24);
    /// The largest body a queued call may carry (what the gateway accepts).
    std::uint64_t max_async_bytes = 1ULL << 20;
    /// The largest answer read from a function; a larger one fails the call.
    std::uint64_t max_response_bytes = 64ULL << 20;
    /// Where GET /metrics (Prometheus) is served, on every address; 0: not served.
    int metrics_port = 8081;
};

/// Reads and validates every setting. Throws faas::ConfigError naming the variable.
Config read_config(const Env& env);

/// `urls` (comma-separated) with any user:password@ replaced by ***, for logs.
std::string without_credentials(const std::string& urls);

/// One line for the start-up log: every setting's value.
std::string describe(const Config& config);

}  // namespace faas::queue_worker
