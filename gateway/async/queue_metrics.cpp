// Reading the queue's state from NATS and keeping it in gauges.
#include "async/queue_metrics.h"

#include <algorithm>

#include "call_message.h"
#include "log.h"
#include "metrics.h"
#include "queue_names.h"

namespace faas::gateway {
namespace {

const std::string kCallPrefix = "faas.calls.";
const std::string kDeadPrefix = "faas.dead.";

/// What a stream nobody has made yet holds: nothing.
template <typename Read>
auto or_empty(Read read) -> decltype(read()) {
    try {
        return read();
    } catch (const queue::NoSuchStream&) {
        return {};
    }
}

}  // namespace

std::optional<std::string> queue_of_subject(const std::string& subject, const std::string& prefix) {
    if (!subject.starts_with(prefix)) return std::nullopt;
    std::string name = subject.substr(prefix.size());
    if (!queue::is_valid_queue_name(name)) return std::nullopt;
    return name;
}

std::optional<std::string> queue_of_consumer(const queue::ConsumerState& consumer) {
    auto name = queue_of_subject(consumer.filter_subject, kCallPrefix);
    if (!name || consumer.name != queue::worker_consumer(*name)) return std::nullopt;
    return name;
}

QueueSamples sample_queues(queue::JetStream& jetstream, std::chrono::system_clock::time_point now,
                           std::chrono::milliseconds timeout) {
    const auto consumers =
        or_empty([&] { return jetstream.consumers(queue::kCallStream, timeout); });
    const auto stored = or_empty(
        [&] { return jetstream.subject_counts(queue::kCallStream, kCallPrefix + ">", timeout); });
    const auto dead = or_empty([&] {
        return jetstream.subject_counts(queue::kDeadLetterStream, kDeadPrefix + ">", timeout);
    });

    QueueSamples samples;
    std::map<std::string, std::uint64_t> ack_floors;  // Where to look for the oldest call.
    auto room = [&](const std::string& name) {
        return samples.count(name) || samples.size() < kMaxReportedQueues;
    };
    for (const auto& consumer : consumers) {
        auto name = queue_of_consumer(consumer);
        if (!name || !room(*name)) continue;
        samples[*name].depth = consumer.pending + consumer.ack_pending;
        ack_floors[*name] = consumer.ack_floor_sequence;
    }
    for (const auto& [subject, count] : stored) {
        auto name = queue_of_subject(subject, kCallPrefix);
        if (!name || !room(*name)) continue;
        // Without a consumer, what the subject holds is what waits (a work queue drops a call
        // once acknowledged).
        if (!ack_floors.count(*name)) samples[*name].depth = count;
    }
    for (const auto& [subject, count] : dead) {
        auto name = queue_of_subject(subject, kDeadPrefix);
        if (!name || !room(*name)) continue;
        samples[*name].dead_letters = count;
    }
    for (auto& [name, sample] : samples) {
        if (!stored.count(kCallPrefix + name)) continue;  // Nothing waits.
        // Every call up to the ack floor is acknowledged, so gone from the work queue: the
        // oldest one still stored after it is the oldest not finished.
        const auto floor = ack_floors.count(name) ? ack_floors[name] : 0;
        auto oldest = or_empty([&] {
            return jetstream.next_message(queue::kCallStream, queue::call_subject(name), floor + 1,
                                          timeout);
        });
        if (oldest)
            sample.oldest_age_seconds =
                std::max(0.0, std::chrono::duration<double>(now - oldest->stored_at).count());
    }
    return samples;
}

// ---------------------------------------------------------------------------------------------

QueueGauges::QueueGauges()
    : registry_(std::make_shared<prometheus::Registry>()),
      depth_(prometheus::BuildGauge()
                 .Name("gateway_queue_depth")
                 .Help("Asynchronous calls stored and not finished, per queue")
                 .Register(*registry_)),
      oldest_age_(prometheus::BuildGauge()
                      .Name("gateway_queue_oldest_age_seconds")
                      .Help("Age of the oldest call not yet acknowledged, per queue (0: none)")
                      .Register(*registry_)),
      dead_letters_(prometheus::BuildGauge()
                        .Name("gateway_queue_dead_letters")
                        .Help("Messages in the dead-letter stream, per queue")
                        .Register(*registry_)),
      up_(prometheus::BuildGauge()
              .Name("gateway_queue_up")
              .Help("1 when the last reading of the queue from NATS worked, else 0")
              .Register(*registry_)
              .Add({})) {}

void QueueGauges::remove(Series& series) {
    depth_.Remove(series.depth);
    oldest_age_.Remove(series.oldest_age);
    dead_letters_.Remove(series.dead_letters);
}

void QueueGauges::set(const QueueSamples& samples) {
    std::lock_guard lock(mutex_);
    for (auto it = queues_.begin(); it != queues_.end();) {
        if (samples.count(it->first)) {
            ++it;
            continue;
        }
        remove(it->second);
        it = queues_.erase(it);
    }
    for (const auto& [name, sample] : samples) {
        auto it = queues_.find(name);
        if (it == queues_.end()) {
            const prometheus::Labels labels{{"queue", name}};
            it = queues_
                     .emplace(name, Series{&depth_.Add(labels), &oldest_age_.Add(labels),
                                           &dead_letters_.Add(labels)})
                     .first;
        }
        it->second.depth->Set(static_cast<double>(sample.depth));
        it->second.oldest_age->Set(sample.oldest_age_seconds);
        it->second.dead_letters->Set(static_cast<double>(sample.dead_letters));
    }
    up_.Set(1);
}

void QueueGauges::set_down() {
    std::lock_guard lock(mutex_);
    for (auto& [name, series] : queues_) remove(series);
    queues_.clear();
    up_.Set(0);
}

// ---------------------------------------------------------------------------------------------

QueueMetrics::QueueMetrics(QueueMetricsOptions options)
    : options_(std::move(options)), thread_([this] { run(); }) {}

QueueMetrics::~QueueMetrics() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_requested_.notify_all();
    thread_.join();
}

std::uint64_t QueueMetrics::readings() const {
    std::lock_guard lock(mutex_);
    return readings_;
}

std::optional<std::string> QueueMetrics::read(std::optional<queue::JetStream>& jetstream) {
    try {
        if (!jetstream) {
            queue::ConnectOptions connect;
            connect.url = options_.nats_url;
            connect.client_name = "faas-gateway-metrics";
            connect.connect_timeout = options_.timeout;
            connect.retry_in_background = true;  // NATS may come up after the gateway.
            connect.reconnect_wait = std::chrono::seconds(1);
            jetstream = queue::JetStream::connect(connect);
        }
        gauges_.set(sample_queues(*jetstream, std::chrono::system_clock::now(), options_.timeout));
        return std::nullopt;
    } catch (const queue::QueueError& e) {
        gauges_.set_down();
        return e.what();
    }
}

void QueueMetrics::run() {
    std::optional<queue::JetStream> jetstream;
    bool was_up = true;  // So that a first reading that fails is told.
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (options_.ready && !options_.ready()) {
            stop_requested_.wait_for(lock, options_.interval, [this] { return stopping_; });
            continue;
        }
        lock.unlock();
        const std::optional<std::string> error = read(jetstream);
        // Told once per change, not at every reading of an outage.
        if (error && was_up)
            log_line("Queue metrics: cannot read the queue (gateway_queue_up 0): " + *error);
        if (!error && !was_up) log_line("Queue metrics: reading the queue on " + options_.nats_url);
        was_up = !error;
        lock.lock();
        ++readings_;
        stop_requested_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
}

}  // namespace faas::gateway
