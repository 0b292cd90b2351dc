// Asynchronous calls as the gateway's routes see them: a call to /async-function/<name> checked
// as a sync call is (the function exists, the name, X-Call-Id and X-Callback-Url are sound, the
// body fits max_async_bytes) and stored in the queue before it is answered 202; and the call
// records behind /system/calls. Without a queue (async_calls=false, or no nats-server to start)
// every route answers 503 saying what is missing.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "async/call_queue.h"
#include "call_record.h"
#include "http/message.h"
#include "provider/function_provider.h"

namespace faas::gateway {

struct AsyncCallsOptions {
    std::string served_namespace;
    std::uint64_t max_async_bytes = 768ULL << 10;
    /// Told the queue of every call stored (the local queue starts a worker for a named one).
    std::function<void(const std::string& queue)> on_queued;
};

/// Thread-safe.
class AsyncCalls {
  public:
    /// `queue` null: unavailable, for `why` (one line: what is missing and how to get it).
    AsyncCalls(FunctionProvider& provider, std::unique_ptr<CallQueue> queue, std::string why,
               AsyncCallsOptions options);

    /// POST /async-function/<name>[/<path>]: the call id (the client's X-Call-Id, or a new one)
    /// once the call is stored. Throws BadRequest, NotFound, PayloadTooLarge, Unavailable.
    std::string enqueue(const Request& request);

    /// Throws NotFound (no such call), Unavailable.
    queue::CallRecord get(const std::string& call_id);
    std::vector<queue::CallRecord> list(const std::string& function,
                                        std::optional<queue::CallState> state, std::size_t limit);
    /// The record, cancelled. Throws NotFound, Conflict (it is no longer queued), Unavailable.
    queue::CallRecord cancel(const std::string& call_id);

  private:
    CallQueue& queue() const;
    /// The function's queue (com.openfaas.queue), remembered for a few seconds.
    std::string queue_of(const std::string& function);

    FunctionProvider& provider_;
    const std::unique_ptr<CallQueue> queue_;
    const std::string why_;
    const AsyncCallsOptions options_;

    struct KnownQueue {
        std::string queue;
        std::chrono::steady_clock::time_point until;
    };
    std::mutex queues_mutex_;
    std::map<std::string, KnownQueue> queues_;
};

}  // namespace faas::gateway
