// Chooses how the gateway queues asynchronous calls, from its settings: NATS at nats_url; or,
// on the local provider without one, nats-server and a queue worker it starts itself; or
// nothing, with the reason every async route then answers (503). With a queue, its gauges join
// the gateway's /metrics, and with record_calls=all a recorder stores synchronous calls too.
#pragma once

#include <memory>
#include <string>

#include "async/async_calls.h"
#include "async/call_recorder.h"
#include "async/local_queue.h"
#include "async/queue_metrics.h"
#include "config.h"
#include "provider/function_provider.h"

namespace faas::gateway {

struct AsyncSetup {
    std::unique_ptr<AsyncCalls> calls;  ///< Null when async_calls=false.
    std::unique_ptr<LocalQueue> local;  ///< Started by the caller once the gateway listens.
    /// Reads the queue for /metrics while it lives; null without a queue.
    std::unique_ptr<QueueMetrics> queue_metrics;
    /// Records synchronous calls (record_calls=all); null otherwise. Goes before `calls`.
    std::unique_ptr<CallRecorder> recorder;
    std::string description;  ///< One line for the start-up log.
};

AsyncSetup make_async(const Config& config, FunctionProvider& provider);

}  // namespace faas::gateway
