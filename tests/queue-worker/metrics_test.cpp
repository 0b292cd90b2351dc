// The queue worker's metrics: what each event counts, bounded labels, and GET /metrics served
// on a port of its own.
#include "metrics.h"

#include <doctest/doctest.h>

#include <string>

#include "metrics_server.h"
#include "support/wait.h"

using faas::queue_worker::kMaxFunctionLabels;
using faas::queue_worker::MetricsServer;
using faas::queue_worker::OutcomeKind;
using faas::queue_worker::WorkerMetrics;

namespace {

bool has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("calls by function and outcome, retries, callbacks and attempt durations") {
    WorkerMetrics metrics;
    metrics.call_finished("echo", OutcomeKind::kSucceeded);
    metrics.call_finished("echo", OutcomeKind::kSucceeded);
    metrics.call_finished("echo", OutcomeKind::kFailed);
    metrics.call_finished("flaky", OutcomeKind::kDeadLettered);
    metrics.call_cancelled("echo");
    metrics.retry_scheduled("flaky");
    metrics.retry_scheduled("flaky");
    metrics.callback_sent(true);
    metrics.callback_sent(false);
    metrics.callback_sent(true);
    metrics.attempt_took(0.02);
    metrics.attempt_took(45);

    const std::string text = metrics.serialize();
    CHECK(has(text, R"(queue_worker_calls_total{function="echo",outcome="succeeded"} 2)"));
    CHECK(has(text, R"(queue_worker_calls_total{function="echo",outcome="failed"} 1)"));
    CHECK(has(text, R"(queue_worker_calls_total{function="echo",outcome="cancelled"} 1)"));
    CHECK(has(text, R"(queue_worker_calls_total{function="flaky",outcome="dead_lettered"} 1)"));
    CHECK(has(text, R"(queue_worker_retries_total{function="flaky"} 2)"));
    CHECK(has(text, R"(queue_worker_callbacks_total{result="delivered"} 2)"));
    CHECK(has(text, R"(queue_worker_callbacks_total{result="failed"} 1)"));
    CHECK(has(text, "queue_worker_call_duration_seconds_count 2"));
    CHECK(has(text, R"(queue_worker_call_duration_seconds_bucket{le="0.025"} 1)"));
    CHECK(has(text, R"(queue_worker_call_duration_seconds_bucket{le="60"} 2)"));
    CHECK(has(text, "queue_worker_inflight 0"));
}

TEST_CASE("before any call the callback results and in-flight gauge are already there") {
    const std::string text = WorkerMetrics().serialize();
    CHECK(has(text, R"(queue_worker_callbacks_total{result="delivered"} 0)"));
    CHECK(has(text, R"(queue_worker_callbacks_total{result="failed"} 0)"));
    CHECK(has(text, "queue_worker_inflight 0"));
    CHECK(has(text, "queue_worker_call_duration_seconds_count 0"));
}

TEST_CASE("in flight while the guard lives") {
    WorkerMetrics metrics;
    {
        const auto first = metrics.in_flight();
        const auto second = metrics.in_flight();
        CHECK(has(metrics.serialize(), "queue_worker_inflight 2"));
    }
    CHECK(has(metrics.serialize(), "queue_worker_inflight 0"));
}

TEST_CASE("function labels are bounded: past the limit, calls count as other") {
    WorkerMetrics metrics;
    for (std::size_t i = 0; i < kMaxFunctionLabels; ++i)
        metrics.call_finished("fn-" + std::to_string(i), OutcomeKind::kSucceeded);
    metrics.call_finished("one-too-many", OutcomeKind::kSucceeded);
    metrics.retry_scheduled("another");
    metrics.call_finished("fn-0", OutcomeKind::kSucceeded);  // Known ones keep their name.
    const std::string text = metrics.serialize();
    CHECK(has(text, R"(queue_worker_calls_total{function="other",outcome="succeeded"} 1)"));
    CHECK(has(text, R"(queue_worker_retries_total{function="other"} 1)"));
    CHECK(has(text, R"(queue_worker_calls_total{function="fn-0",outcome="succeeded"} 2)"));
    CHECK(text.find("one-too-many") == std::string::npos);
}

TEST_CASE("the metrics server answers GET /metrics on its port and nothing else") {
    WorkerMetrics metrics;
    metrics.call_finished("echo", OutcomeKind::kSucceeded);
    MetricsServer server(metrics);
    REQUIRE(server.start("127.0.0.1", 0));
    REQUIRE(server.port() > 0);
    httplib::Client client("127.0.0.1", server.port());
    client.set_connection_timeout(2);
    client.set_read_timeout(2);
    auto res = client.Get("/metrics");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type").find("text/plain") == 0);
    CHECK(has(res->body, R"(queue_worker_calls_total{function="echo",outcome="succeeded"} 1)"));
    auto other = client.Get("/");
    REQUIRE(other);
    CHECK(other->status == 404);

    // The port is taken now: a second server cannot have it.
    MetricsServer second(metrics);
    CHECK_FALSE(second.start("127.0.0.1", server.port()));
    CHECK(second.port() == -1);
}
