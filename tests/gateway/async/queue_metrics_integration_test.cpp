// The queue's gauges against a real nats-server on loopback: depth and the oldest call's age
// with no worker taking calls, dead letters, queues without a worker, and gateway_queue_up
// through an outage, as the gateway's /metrics shows them.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "async/queue_metrics.h"
#include "jetstream.h"
#include "metrics.h"
#include "nats_server.h"
#include "queue_names.h"
#include "queue_setup.h"
#include "support/process.h"
#include "support/wait.h"

using namespace faas::gateway;
using namespace faas::queue;
using faas::test::NatsServer;
using faas::test::TempDir;
using faas::test::wait_until;
using namespace std::chrono_literals;

namespace {

/// NATS with the gateway's streams, and a connection to it.
struct Fixture {
    TempDir store;
    NatsServer server{store.path()};
    JetStream js = JetStream::connect(server.url(), 2s);

    void make_streams() {
        js.ensure_stream(call_stream_config());
        js.ensure_stream(dead_letter_stream_config());
    }
    /// The consumer a worker of `queue` makes when it starts (and leaves when it stops).
    PullConsumer worker_consumer_of(const std::string& queue) {
        ConsumerConfig config;
        config.stream = kCallStream;
        config.durable = worker_consumer(queue);
        config.filter_subject = call_subject(queue);
        return js.ensure_consumer(config);
    }
    void call(const std::string& queue, const std::string& id) {
        js.publish(call_subject(queue), "call " + id, id, 2s);
    }
};

bool has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("no stream made yet: NATS answers and there is no queue to show") {
    Fixture f;
    CHECK(sample_queues(f.js, std::chrono::system_clock::now(), 2s).empty());
    f.make_streams();
    CHECK(sample_queues(f.js, std::chrono::system_clock::now(), 2s).empty());
}

TEST_CASE("calls no worker takes: depth N and the oldest call's age, per queue") {
    Fixture f;
    f.make_streams();
    PullConsumer request_queue = f.worker_consumer_of(kDefaultQueue);
    f.worker_consumer_of("slow");  // A named queue, idle.
    for (int i = 1; i <= 3; ++i) f.call(kDefaultQueue, "call-" + std::to_string(i));
    f.call("orphan", "call-orphan-1");  // A queue no worker has ever taken from.
    f.call("orphan", "call-orphan-2");

    const auto now = std::chrono::system_clock::now();
    QueueSamples samples = sample_queues(f.js, now, 2s);
    REQUIRE(samples.size() == 3);
    CHECK(samples[kDefaultQueue].depth == 3);
    CHECK(samples[kDefaultQueue].oldest_age_seconds > 0);
    CHECK(samples[kDefaultQueue].oldest_age_seconds < 30);
    CHECK(samples[kDefaultQueue].dead_letters == 0);
    CHECK(samples["slow"].depth == 0);
    CHECK(samples["slow"].oldest_age_seconds == 0);
    CHECK(samples["orphan"].depth == 2);
    CHECK(samples["orphan"].oldest_age_seconds > 0);

    // A minute later the same calls are a minute older.
    samples = sample_queues(f.js, now + 60s, 2s);
    CHECK(samples[kDefaultQueue].oldest_age_seconds >= 60);
    CHECK(samples[kDefaultQueue].oldest_age_seconds < 90);

    // One taken and still running counts; once acknowledged it is done.
    auto taken = request_queue.fetch(1, 2s);
    REQUIRE(taken.size() == 1);
    CHECK(sample_queues(f.js, now, 2s)[kDefaultQueue].depth == 3);
    const auto oldest_stored = taken.front().stored_at();
    taken.front().ack();
    REQUIRE(wait_until([&] { return sample_queues(f.js, now + 60s, 2s)[kDefaultQueue].depth == 2; },
                       5s));
    // The oldest now is the second call, stored after the first.
    const double age = sample_queues(f.js, now + 60s, 2s)[kDefaultQueue].oldest_age_seconds;
    CHECK(age <= std::chrono::duration<double>(now + 60s - oldest_stored).count());
    CHECK(age > 0);
}

TEST_CASE("a message in the dead-letter stream: dead_letters 1 for its queue") {
    Fixture f;
    f.make_streams();
    f.worker_consumer_of(kDefaultQueue);
    f.js.publish(dead_letter_subject(kDefaultQueue), "dead call", "dead-1", 2s,
                 {{"Faas-Dead-Letter-Reason", "no success after 3 attempts"}});
    f.js.publish(dead_letter_subject("gone"), "dead call", "dead-2", 2s);  // Workers gone.
    const QueueSamples samples = sample_queues(f.js, std::chrono::system_clock::now(), 2s);
    REQUIRE(samples.count(kDefaultQueue));
    CHECK(samples.at(kDefaultQueue).dead_letters == 1);
    CHECK(samples.at(kDefaultQueue).depth == 0);
    REQUIRE(samples.count("gone"));
    CHECK(samples.at("gone").dead_letters == 1);
}

TEST_CASE("the gateway's /metrics follows the queue, and says gateway_queue_up 0 in an outage") {
    Fixture f;
    f.make_streams();
    f.worker_consumer_of(kDefaultQueue);
    f.call(kDefaultQueue, "call-m1");
    f.call(kDefaultQueue, "call-m2");
    f.js.publish(dead_letter_subject(kDefaultQueue), "dead call", "dead-m1", 2s);

    QueueMetricsOptions options;
    options.nats_url = f.server.url();
    options.interval = 100ms;
    options.timeout = 500ms;
    QueueMetrics queue_metrics(options);
    Metrics metrics;
    metrics.include(queue_metrics.gauges().registry());  // as main wires them
    metrics.invocation_finished("echo", 200, 0.1);       // The gateway's own, to see them kept.
    std::string text;
    const bool seen = wait_until(
        [&] {
            text = metrics.serialize();
            return has(text, R"(gateway_queue_depth{queue="faas-request"} 2)");
        },
        10s);
    REQUIRE_MESSAGE(seen, text);
    CHECK(has(text, "gateway_queue_up 1"));
    CHECK(has(text, R"(gateway_queue_dead_letters{queue="faas-request"} 1)"));
    CHECK(text.find(R"(gateway_queue_oldest_age_seconds{queue="faas-request"} )") !=
          std::string::npos);
    CHECK_FALSE(has(text, R"(gateway_queue_oldest_age_seconds{queue="faas-request"} 0)"));

    // NATS down: the next readings fail at once, /metrics keeps answering promptly.
    f.server.stop();
    REQUIRE_MESSAGE(wait_until([&] { return has(metrics.serialize(), "gateway_queue_up 0"); }, 10s),
                    metrics.serialize());
    const auto start = std::chrono::steady_clock::now();
    text = metrics.serialize();
    CHECK(std::chrono::steady_clock::now() - start < 100ms);
    CHECK(text.find("gateway_queue_depth{") == std::string::npos);
    CHECK(has(text, R"(gateway_function_invocation_total{code="200",function_name="echo"} 1)"));

    // Back up (same store): the calls are still there and so are the gauges.
    f.server.start();
    CHECK(wait_until(
        [&] {
            text = metrics.serialize();
            return has(text, "gateway_queue_up 1") &&
                   has(text, R"(gateway_queue_depth{queue="faas-request"} 2)");
        },
        15s));
}

TEST_CASE("a gateway started before NATS: gateway_queue_up 0, then 1 once NATS is up") {
    TempDir store;
    const int port = faas::test::free_port();
    QueueMetricsOptions options;
    options.nats_url = "nats://127.0.0.1:" + std::to_string(port);
    options.interval = 100ms;
    options.timeout = 500ms;
    QueueMetrics queue_metrics(options);
    Metrics metrics;
    metrics.include(queue_metrics.gauges().registry());
    REQUIRE(wait_until([&] { return queue_metrics.readings() >= 2; }, 10s));
    CHECK(has(metrics.serialize(), "gateway_queue_up 0"));

    NatsServer server(store.path(), port);
    CHECK_MESSAGE(wait_until([&] { return has(metrics.serialize(), "gateway_queue_up 1"); }, 15s),
                  metrics.serialize());
}
