// The JetStream objects a queue worker needs, created or brought up to date at start-up: the
// streams and the bucket every side shares (queue/queue_setup.h) and the queue's durable
// consumer.
#pragma once

#include <chrono>
#include <string>

#include "jetstream.h"

namespace faas::queue_worker {

/// Delivered but unacknowledged calls at most, all workers of a queue together. Larger than any
/// one worker's max_inflight (at most 1000), so replicas never starve one another; the same
/// for every worker, so replicas do not undo one another's consumer settings.
inline constexpr int kMaxAckPending = 20000;

/// The durable consumer every worker of `queue` shares.
queue::ConsumerConfig worker_consumer_config(const std::string& queue,
                                             std::chrono::milliseconds ack_wait);

/// What a worker holds once set up.
struct QueueHandles {
    queue::PullConsumer consumer;
    queue::KeyValue records;
};

/// Ensures both streams, the record bucket (TTL `record_ttl` when it creates it, or brings it
/// to it) and the consumer of `queue`. Throws QueueUnavailable while NATS is not reachable,
/// QueueError when it refuses a definition.
QueueHandles ensure_worker_queue(queue::JetStream& js, const std::string& queue,
                                 std::chrono::milliseconds ack_wait,
                                 std::chrono::milliseconds record_ttl);

}  // namespace faas::queue_worker
