// The gateway's side of the queue of asynchronous calls: stores a call in the JetStream stream
// (with the call id as message id, so a retried call id is stored once), keeps its record in
// the bucket, and reads and cancels records. The streams, consumer-free, and the bucket are
// made on first use, so the gateway may start before NATS does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "call_message.h"
#include "call_record.h"
#include "jetstream.h"

namespace faas::gateway {

struct CallQueueOptions {
    std::string nats_url;
    /// Runs before the first connection (the local provider starts nats-server here); throws
    /// queue::QueueUnavailable when the queue cannot be had.
    std::function<void()> before_connect;
    std::chrono::milliseconds publish_timeout{5000};
    std::chrono::nanoseconds record_ttl = std::chrono::hours(24);
    /// record_calls=all: synchronous calls are recorded too, in a bucket of their own keeping
    /// the newest `sync_records_kept`.
    bool record_sync = false;
    std::int64_t sync_records_kept = 10000;
};

/// Thread-safe. Every method throws queue::QueueUnavailable when NATS cannot be reached (the
/// caller's 503) and queue::QueueError when it refuses.
class CallQueue {
  public:
    explicit CallQueue(CallQueueOptions options);

    struct Stored {
        bool duplicate = false;  ///< The call id was stored before: nothing new was.
    };
    /// Stores the call and, unless it was a duplicate, its record "queued". `new_id`: the call
    /// id was made just now (not the client's), so no record of it can exist yet: one NATS
    /// round trip fewer.
    Stored enqueue(const queue::CallMessage& message, bool new_id = false);

    /// Stores records of synchronous calls (record_sync): how many were stored.
    std::size_t store_sync_records(const std::vector<queue::CallRecord>& records);

    /// The asynchronous call's record, else the synchronous one's (record_sync).
    std::optional<queue::CallRecord> record(const std::string& call_id);
    /// The newest first, at most `limit`, of those matching (empty filters match all).
    std::vector<queue::CallRecord> records(const std::string& function,
                                           std::optional<queue::CallState> state,
                                           std::size_t limit);
    /// Marks a queued call cancelled, so no worker makes it. The record after the attempt
    /// (nullopt: no such call); a call no longer queued is left as it is.
    std::optional<queue::CallRecord> cancel(const std::string& call_id);

  private:
    struct Handles {
        queue::JetStream jetstream;
        queue::KeyValue records;
        std::optional<queue::KeyValue> sync_records;  ///< With record_sync.
    };
    /// Connects and makes the streams and the bucket once (again after a failure), then hands
    /// out the shared handles, which are used without the lock.
    Handles handles();

    const CallQueueOptions options_;
    std::mutex mutex_;
    std::optional<queue::JetStream> jetstream_;
    std::optional<queue::KeyValue> records_;
    std::optional<queue::KeyValue> sync_records_;
};

}  // namespace faas::gateway
