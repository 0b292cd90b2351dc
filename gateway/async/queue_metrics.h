// The queue's health on the gateway's /metrics (issue #13): per queue, the calls stored and not
// finished, the age of the oldest, and the dead letters. A sampler thread reads them from NATS
// every few seconds over a connection of its own, so neither a call nor a scrape ever waits for
// NATS; gateway_queue_up says whether the last reading worked.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "jetstream.h"

namespace faas::gateway {

/// One queue as last read.
struct QueueSample {
    /// Calls stored and not finished: the worker consumer's pending + ack pending, or, for a
    /// queue no worker has taken from yet, the calls its subject holds.
    std::uint64_t depth = 0;
    /// How long the oldest call not yet acknowledged has been stored; 0 when there is none.
    double oldest_age_seconds = 0;
    /// Messages in the dead-letter stream for this queue.
    std::uint64_t dead_letters = 0;
};
/// Every queue, by name.
using QueueSamples = std::map<std::string, QueueSample>;

/// Queues reported at most: past it, further names are left out (cardinality stays bounded).
inline constexpr std::size_t kMaxReportedQueues = 500;

/// The queue a worker consumer serves: "q" for consumer workers-q filtering faas.calls.q;
/// nullopt for any other consumer (someone's own, with another name or filter).
std::optional<std::string> queue_of_consumer(const queue::ConsumerState& consumer);
/// "q" for faas.calls.q (`prefix` "faas.calls.") or faas.dead.q ("faas.dead."); nullopt for a
/// subject that is not a queue's.
std::optional<std::string> queue_of_subject(const std::string& subject, const std::string& prefix);

/// Reads every queue now: those with a worker consumer, those holding calls, those with dead
/// letters. Streams nobody has made yet count as empty. Throws queue::QueueUnavailable when
/// NATS does not answer within `timeout` a request, queue::QueueError when it refuses.
QueueSamples sample_queues(queue::JetStream& jetstream, std::chrono::system_clock::time_point now,
                           std::chrono::milliseconds timeout);

/// gateway_queue_depth, gateway_queue_oldest_age_seconds, gateway_queue_dead_letters {queue}
/// and gateway_queue_up, in a registry of their own. Thread-safe.
class QueueGauges {
  public:
    QueueGauges();

    /// The queues' series exactly these (others removed), and up 1.
    void set(const QueueSamples& samples);
    /// NATS could not be read: up 0 and no queue series, as stale values would mislead.
    void set_down();

    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  private:
    struct Series {
        prometheus::Gauge* depth;
        prometheus::Gauge* oldest_age;
        prometheus::Gauge* dead_letters;
    };
    void remove(Series& series);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Gauge>& depth_;
    prometheus::Family<prometheus::Gauge>& oldest_age_;
    prometheus::Family<prometheus::Gauge>& dead_letters_;
    prometheus::Gauge& up_;
    std::mutex mutex_;
    std::map<std::string, Series> queues_;  ///< Guarded by mutex_.
};

struct QueueMetricsOptions {
    std::string nats_url;
    std::chrono::milliseconds interval{5000};  ///< Between readings.
    std::chrono::milliseconds timeout{2000};   ///< For each request of a reading.
    /// Readings start once this is true (the local provider's nats-server, started on the
    /// first asynchronous call); until then nothing is read or logged and up stays 0.
    std::function<bool()> ready;
};

/// Reads the queue every interval from the moment it is made until it is destroyed; main hands
/// the gauges' registry to the gateway's /metrics.
class QueueMetrics {
  public:
    explicit QueueMetrics(QueueMetricsOptions options);
    ~QueueMetrics();
    QueueMetrics(const QueueMetrics&) = delete;
    QueueMetrics& operator=(const QueueMetrics&) = delete;

    const QueueGauges& gauges() const { return gauges_; }
    /// Readings done so far, successful or not (tests wait on it).
    std::uint64_t readings() const;

  private:
    void run();
    /// One reading (connecting first if need be); why it failed, or nullopt.
    std::optional<std::string> read(std::optional<queue::JetStream>& jetstream);

    const QueueMetricsOptions options_;
    QueueGauges gauges_;
    mutable std::mutex mutex_;
    std::condition_variable stop_requested_;
    bool stopping_ = false;       ///< Guarded by mutex_.
    std::uint64_t readings_ = 0;  ///< Guarded by mutex_.
    std::thread thread_;          ///< Last: started once everything above is made.
};

}  // namespace faas::gateway
