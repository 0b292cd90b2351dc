// The queue worker's Prometheus metrics (issue #13): calls by function and how they ended,
// retries, callbacks, calls in flight and how long each attempt took. Served on the worker's
// metrics_port (metrics_server.h); every method is cheap, thread-safe and cannot fail.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "outcome.h"

namespace faas::queue_worker {

/// Distinct `function` labels at most; calls of functions past it count as "other".
inline constexpr std::size_t kMaxFunctionLabels = 500;

class WorkerMetrics {
  public:
    WorkerMetrics();

    /// queue_worker_calls_total{function,outcome}: a call finished as `kind` (kSucceeded ->
    /// succeeded, kFailed -> failed, kDeadLettered -> dead_lettered; kRetry is not an end).
    void call_finished(const std::string& function, OutcomeKind kind);
    /// queue_worker_calls_total{function,outcome="cancelled"}: cancelled before it was made.
    void call_cancelled(const std::string& function);
    /// queue_worker_retries_total{function}: an attempt failed and the call will be retried.
    void retry_scheduled(const std::string& function);
    /// queue_worker_callbacks_total{result="delivered"|"failed"}: a callback given up is failed.
    void callback_sent(bool delivered);
    /// queue_worker_call_duration_seconds: one attempt at the function through the gateway.
    void attempt_took(double seconds);

    /// queue_worker_inflight counts a call while one of these lives.
    class InFlight {
      public:
        explicit InFlight(prometheus::Gauge& gauge) : gauge_(&gauge) { gauge_->Increment(); }
        ~InFlight() { gauge_->Decrement(); }
        InFlight(const InFlight&) = delete;
        InFlight& operator=(const InFlight&) = delete;

      private:
        prometheus::Gauge* gauge_;
    };
    InFlight in_flight() { return InFlight(inflight_); }

    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
    /// The text exposition format, for GET /metrics.
    std::string serialize() const;

  private:
    /// `function`, or "other" once kMaxFunctionLabels names are in use.
    std::string function_label(const std::string& function);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& calls_;
    prometheus::Family<prometheus::Counter>& retries_;
    prometheus::Family<prometheus::Counter>& callbacks_;
    prometheus::Gauge& inflight_;
    prometheus::Histogram& duration_;
    std::mutex functions_mutex_;
    std::set<std::string> functions_;  ///< Labels in use. Guarded by functions_mutex_.
};

}  // namespace faas::queue_worker
