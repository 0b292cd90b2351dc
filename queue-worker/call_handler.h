// One delivered call from start to end: read it, check its record, call the function, then
// retry it later, dead-letter it or finish it, call back, and acknowledge it. Each step that
// can fail leaves the message unacknowledged, so the server delivers it again (at-least-once).
#pragma once

#include "config.h"
#include "http_client.h"
#include "in_progress_ticker.h"
#include "jetstream.h"
#include "metrics.h"
#include "stop_flag.h"

namespace faas::queue_worker {

class CallHandler {
  public:
    /// Everything must outlive the handler. Thread-safe: worker threads share one.
    CallHandler(const Config& config, queue::JetStream& js, queue::KeyValue& records,
                InProgressTicker& ticker, const StopFlag& stop, WorkerMetrics& metrics);

    /// Handles `delivery` with `client` (the calling thread's). Throws only what it cannot
    /// handle (e.g. NATS gone mid-way); the message is then left unacknowledged.
    void handle(queue::Delivery& delivery, HttpClient& client);

  private:
    const Config& config_;
    queue::JetStream& js_;
    queue::KeyValue& records_;
    InProgressTicker& ticker_;
    const StopFlag& stop_;
    WorkerMetrics& metrics_;
};

}  // namespace faas::queue_worker
