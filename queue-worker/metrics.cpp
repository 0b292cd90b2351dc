// The queue worker's metrics on prometheus-cpp core.
#include "metrics.h"

#include <prometheus/text_serializer.h>

namespace faas::queue_worker {
namespace {

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
    // Prometheus's defaults, and longer ones: a queued call may run for minutes.
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    return buckets;
}

const char* outcome_label(OutcomeKind kind) {
    switch (kind) {
        case OutcomeKind::kSucceeded:
            return "succeeded";
        case OutcomeKind::kDeadLettered:
            return "dead_lettered";
        case OutcomeKind::kRetry:  // Not an end: counted by retry_scheduled.
        case OutcomeKind::kFailed:
            break;
    }
    return "failed";
}

}  // namespace

WorkerMetrics::WorkerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(prometheus::BuildCounter()
                 .Name("queue_worker_calls_total")
                 .Help("Queued calls finished, by function and outcome")
                 .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("queue_worker_retries_total")
                   .Help("Attempts that failed and were scheduled again, by function")
                   .Register(*registry_)),
      callbacks_(prometheus::BuildCounter()
                     .Name("queue_worker_callbacks_total")
                     .Help("Callbacks delivered or given up, by result")
                     .Register(*registry_)),
      inflight_(prometheus::BuildGauge()
                    .Name("queue_worker_inflight")
                    .Help("Calls this worker is handling now")
                    .Register(*registry_)
                    .Add({})),
      duration_(prometheus::BuildHistogram()
                    .Name("queue_worker_call_duration_seconds")
                    .Help("Duration of one attempt at a function through the gateway")
                    .Register(*registry_)
                    .Add({}, duration_buckets())) {
    // Both results exist from the start, so a rate over them is never "no data".
    callbacks_.Add({{"result", "delivered"}});
    callbacks_.Add({{"result", "failed"}});
}

std::string WorkerMetrics::function_label(const std::string& function) {
    std::lock_guard lock(functions_mutex_);
    if (functions_.count(function)) return function;
    if (functions_.size() >= kMaxFunctionLabels) return "other";
    functions_.insert(function);
    return function;
}

void WorkerMetrics::call_finished(const std::string& function, OutcomeKind kind) {
    calls_.Add({{"function", function_label(function)}, {"outcome", outcome_label(kind)}})
        .Increment();
}

void WorkerMetrics::call_cancelled(const std::string& function) {
    calls_.Add({{"function", function_label(function)}, {"outcome", "cancelled"}}).Increment();
}

void WorkerMetrics::retry_scheduled(const std::string& function) {
    retries_.Add({{"function", function_label(function)}}).Increment();
}

void WorkerMetrics::callback_sent(bool delivered) {
    callbacks_.Add({{"result", delivered ? "delivered" : "failed"}}).Increment();
}

void WorkerMetrics::attempt_took(double seconds) {
    duration_.Observe(seconds);
}

std::string WorkerMetrics::serialize() const {
    prometheus::TextSerializer serializer;
    return serializer.Serialize(registry_->Collect());
}

}  // namespace faas::queue_worker
