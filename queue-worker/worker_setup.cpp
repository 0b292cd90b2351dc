// A queue worker's consumer, over the shared streams and bucket.
#include "worker_setup.h"

#include "queue_names.h"
#include "queue_setup.h"

namespace faas::queue_worker {

queue::ConsumerConfig worker_consumer_config(const std::string& queue,
                                             std::chrono::milliseconds ack_wait) {
    queue::ConsumerConfig config;
    config.stream = queue::kCallStream;
    config.durable = queue::worker_consumer(queue);
    config.filter_subject = queue::call_subject(queue);
    config.ack_wait = ack_wait;
    // Never given up by the server: the worker counts attempts and dead-letters the last one.
    config.max_deliver = -1;
    config.max_ack_pending = kMaxAckPending;
    return config;
}

QueueHandles ensure_worker_queue(queue::JetStream& js, const std::string& queue,
                                 std::chrono::milliseconds ack_wait,
                                 std::chrono::milliseconds record_ttl) {
    queue::KeyValue records = queue::ensure_queue(js, record_ttl);
    queue::PullConsumer consumer = js.ensure_consumer(worker_consumer_config(queue, ack_wait));
    return QueueHandles{std::move(consumer), std::move(records)};
}

}  // namespace faas::queue_worker
