// Records of synchronous calls (record_calls=all), written off the call path: a call hands its
// record over (a lock and a move, never I/O), and a thread of the recorder, at the lowest priority,
// stores them in batches. The queue between them is bounded; when the store falls behind (the
// CPUs are busy with calls, or NATS is slow) or NATS is down, records are dropped and counted
// (gateway_call_records_dropped_total), so a call is never slowed nor memory grown.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "call_record.h"

namespace faas::gateway {

struct CallRecorderOptions {
    /// Records waiting to be stored at most; past it new ones are dropped.
    std::size_t capacity = 20000;
    /// Records stored in one batch at most.
    std::size_t batch = 500;
    /// How long a record may wait for its batch to fill.
    std::chrono::milliseconds linger{100};
    /// The storing thread runs at the lowest priority (nice 19).
    bool low_priority = true;
};

class CallRecorder {
  public:
    /// Stores a batch; returns how many it stored (the rest are counted dropped). Throws
    /// queue::QueueError (QueueUnavailable included) when it stored none: all dropped.
    using Store = std::function<std::size_t(const std::vector<queue::CallRecord>&)>;

    CallRecorder(Store store, CallRecorderOptions options = {});
    /// Stores what is waiting (one last batch at a time), then stops.
    ~CallRecorder();
    CallRecorder(const CallRecorder&) = delete;
    CallRecorder& operator=(const CallRecorder&) = delete;

    /// Any thread; never blocks on the store.
    void record(queue::CallRecord record);

    /// gateway_call_records_stored_total and gateway_call_records_dropped_total{reason}.
    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
    std::uint64_t stored() const;
    std::uint64_t dropped() const;

  private:
    void run();

    const Store store_;
    const CallRecorderOptions options_;
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Counter& stored_;
    prometheus::Family<prometheus::Counter>& dropped_family_;
    prometheus::Counter& dropped_full_;         ///< The queue was full.
    prometheus::Counter& dropped_unavailable_;  ///< NATS could not be reached.
    prometheus::Counter& dropped_refused_;      ///< NATS refused or did not acknowledge them.

    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<queue::CallRecord> waiting_;  ///< Guarded by mutex_.
    bool stopping_ = false;                   ///< Guarded by mutex_.
    std::thread thread_;                      ///< Last: started once everything above is made.
};

/// The record of a synchronous call the gateway answered: one attempt, succeeded for a 2xx.
queue::CallRecord sync_call_record(std::string call_id, std::string function, int status,
                                   std::chrono::system_clock::time_point started,
                                   double duration_seconds);

}  // namespace faas::gateway
