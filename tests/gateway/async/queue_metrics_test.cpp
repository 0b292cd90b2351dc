// The queue's gauges without NATS: which consumers and subjects are queues, what the gauges
// show for a reading and for an outage, and that they join the gateway's /metrics.
#include "async/queue_metrics.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "metrics.h"

using namespace faas::gateway;
using faas::queue::ConsumerState;

namespace {

bool has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

/// What a gateway's /metrics shows now, after one call of its own.
/// The gateway's /metrics text with `gauges` included, as main wires them.
std::string gateway_metrics(const std::shared_ptr<QueueGauges>& gauges) {
    Metrics metrics;
    metrics.include(gauges->registry());
    metrics.invocation_finished("echo", 200, 0.1);
    return metrics.serialize();
}

ConsumerState consumer(const std::string& name, const std::string& filter) {
    ConsumerState state;
    state.name = name;
    state.filter_subject = filter;
    return state;
}

}  // namespace

TEST_CASE("a worker consumer names its queue, and no other consumer does") {
    CHECK(queue_of_consumer(consumer("workers-faas-request", "faas.calls.faas-request")) ==
          std::optional<std::string>("faas-request"));
    CHECK(queue_of_consumer(consumer("workers-slow_jobs", "faas.calls.slow_jobs")) ==
          std::optional<std::string>("slow_jobs"));
    CHECK_FALSE(queue_of_consumer(consumer("debug", "faas.calls.faas-request")));
    CHECK_FALSE(queue_of_consumer(consumer("workers-a", "faas.calls.b")));
    CHECK_FALSE(queue_of_consumer(consumer("workers-a", "faas.calls.>")));
    CHECK_FALSE(queue_of_consumer(consumer("workers-a", "")));
}

TEST_CASE("queue_of_subject takes only a queue name after the prefix") {
    CHECK(queue_of_subject("faas.dead.q1", "faas.dead.") == std::optional<std::string>("q1"));
    CHECK(queue_of_subject("faas.calls.q1", "faas.calls.") == std::optional<std::string>("q1"));
    CHECK_FALSE(queue_of_subject("faas.calls.q1", "faas.dead."));
    CHECK_FALSE(queue_of_subject("faas.calls.", "faas.calls."));
    CHECK_FALSE(queue_of_subject("faas.calls.a.b", "faas.calls."));
    CHECK_FALSE(queue_of_subject("faas.calls." + std::string(65, 'q'), "faas.calls."));
}

TEST_CASE("the gauges show the last reading, per queue, and up 1") {
    auto gauges = std::make_shared<QueueGauges>();
    // Down until a first reading works.
    CHECK(has(gateway_metrics(gauges), "gateway_queue_up 0"));

    gauges->set({{"faas-request", {3, 12.5, 0}}, {"slow", {0, 0, 2}}});
    std::string text = gateway_metrics(gauges);
    CHECK(has(text, "gateway_queue_up 1"));
    CHECK(has(text, R"(gateway_queue_depth{queue="faas-request"} 3)"));
    CHECK(has(text, R"(gateway_queue_oldest_age_seconds{queue="faas-request"} 12.5)"));
    CHECK(has(text, R"(gateway_queue_dead_letters{queue="faas-request"} 0)"));
    CHECK(has(text, R"(gateway_queue_depth{queue="slow"} 0)"));
    CHECK(has(text, R"(gateway_queue_dead_letters{queue="slow"} 2)"));
    // The gateway's own metrics are still there beside them.
    CHECK(has(text, R"(gateway_function_invocation_total{code="200",function_name="echo"} 1)"));

    // A queue gone from the reading is gone from the metrics.
    gauges->set({{"slow", {1, 0.5, 2}}});
    text = gateway_metrics(gauges);
    CHECK(text.find(R"(queue="faas-request")") == std::string::npos);
    CHECK(has(text, R"(gateway_queue_depth{queue="slow"} 1)"));

    // An outage: up 0, and no stale values.
    gauges->set_down();
    text = gateway_metrics(gauges);
    CHECK(has(text, "gateway_queue_up 0"));
    CHECK(text.find("queue=") == std::string::npos);
}
