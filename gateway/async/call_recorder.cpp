// Records of synchronous calls, stored in batches by a thread of their own.
#include "async/call_recorder.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "jetstream.h"
#include "log.h"

namespace faas::gateway {

CallRecorder::CallRecorder(Store store, CallRecorderOptions options)
    : store_(std::move(store)),
      options_(options),
      registry_(std::make_shared<prometheus::Registry>()),
      stored_(prometheus::BuildCounter()
                  .Name("gateway_call_records_stored_total")
                  .Help("Records of synchronous calls stored (record_calls=all)")
                  .Register(*registry_)
                  .Add({})),
      dropped_family_(prometheus::BuildCounter()
                          .Name("gateway_call_records_dropped_total")
                          .Help("Records of synchronous calls dropped rather than slow a call: "
                                "the recorder's queue was full, NATS was unreachable, or it "
                                "refused them")
                          .Register(*registry_)),
      dropped_full_(dropped_family_.Add({{"reason", "full"}})),
      dropped_unavailable_(dropped_family_.Add({{"reason", "unavailable"}})),
      dropped_refused_(dropped_family_.Add({{"reason", "refused"}})) {
    waiting_.reserve(options_.batch);
    thread_ = std::thread([this] { run(); });
}

CallRecorder::~CallRecorder() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void CallRecorder::record(queue::CallRecord record) {
    bool full_batch = false;
    {
        std::lock_guard lock(mutex_);
        if (waiting_.size() >= options_.capacity) {
            dropped_full_.Increment();
            return;
        }
        waiting_.push_back(std::move(record));
        full_batch = waiting_.size() == options_.batch;
    }
    // Woken only when a batch is ready; otherwise the thread comes by every linger.
    if (full_batch) wake_.notify_one();
}

std::uint64_t CallRecorder::stored() const {
    return static_cast<std::uint64_t>(stored_.Value());
}

std::uint64_t CallRecorder::dropped() const {
    return static_cast<std::uint64_t>(dropped_full_.Value() + dropped_unavailable_.Value() +
                                      dropped_refused_.Value());
}

void CallRecorder::run() {
    // Serialising and sending records yields to the calls: at the lowest priority (nice 19, a
    // thread's own on Linux) a busy gateway's recorder falls behind and records are dropped
    // (counted), rather than calls slowed. Not SCHED_IDLE: that could starve it for good.
    if (options_.low_priority &&
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19) != 0)
        log_line("Call records: cannot lower the recorder's priority; it competes with calls");
    std::vector<queue::CallRecord> taken;
    std::vector<queue::CallRecord> batch;
    bool last_failed = false;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, options_.linger,
                           [&] { return stopping_ || waiting_.size() >= options_.batch; });
            if (waiting_.empty() && stopping_) return;
            taken.swap(waiting_);
            waiting_.reserve(options_.batch);
        }
        // In batches of at most options_.batch, in the order the calls finished.
        for (std::size_t at = 0; at < taken.size(); at += options_.batch) {
            const std::size_t end = std::min(taken.size(), at + options_.batch);
            batch.assign(std::make_move_iterator(taken.begin() + static_cast<std::ptrdiff_t>(at)),
                         std::make_move_iterator(taken.begin() + static_cast<std::ptrdiff_t>(end)));
            try {
                const std::size_t stored = store_(batch);
                stored_.Increment(static_cast<double>(stored));
                if (stored < batch.size())
                    dropped_refused_.Increment(static_cast<double>(batch.size() - stored));
                if (last_failed) log_line("Call records: stored again");
                last_failed = false;
            } catch (const queue::QueueUnavailable& e) {
                dropped_unavailable_.Increment(static_cast<double>(batch.size()));
                if (!last_failed) log_line(std::string("Call records: dropped, ") + e.what());
                last_failed = true;
            } catch (const std::exception& e) {
                dropped_refused_.Increment(static_cast<double>(batch.size()));
                if (!last_failed) log_line(std::string("Call records: dropped, ") + e.what());
                last_failed = true;
            }
        }
        taken.clear();
    }
}

queue::CallRecord sync_call_record(std::string call_id, std::string function, int status,
                                   std::chrono::system_clock::time_point started,
                                   double duration_seconds) {
    queue::CallRecord record;
    record.call_id = std::move(call_id);
    record.function = std::move(function);
    record.sync = true;
    record.attempts = 1;
    record.status_code = status;
    record.duration_seconds = duration_seconds;
    record.state =
        status >= 200 && status <= 299 ? queue::CallState::kSucceeded : queue::CallState::kFailed;
    if (record.state == queue::CallState::kFailed)
        record.error = "answered " + std::to_string(status);
    record.queued_at = started;
    record.started_at = started;
    record.finished_at = started + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                       std::chrono::duration<double>(duration_seconds));
    return record;
}

}  // namespace faas::gateway
