// Calls a function: resolves the name through the provider, balances over its ready
// replicas, forwards with the asynchronous proxy on the caller's event loop, and answers with
// the function's own response plus the gateway's call headers. Every call, however it arrived
// (plain, chunked, with Expect, HTTP/1.0), takes this one path. Metrics are recorded only for
// functions that exist. A call to a function with no replica that answers (scaled to zero,
// starting, restarting) is held on its loop's HoldQueue while the Waker starts the function.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "async/call_recorder.h"
#include "async_proxy.h"
#include "autoscale/hold_queue.h"
#include "autoscale/waker.h"
#include "http/message.h"
#include "load_balancer.h"
#include "metrics.h"
#include "names.h"
#include "provider/function_provider.h"
#include "proxy.h"

namespace faas::gateway {

/// How the request names its function.
enum class CallTarget {
    kPath,    ///< /function/<name>[/<path>]
    kHeader,  ///< POST / with X-Function, or an Alexa skill body.
};

class InvokeHandler {
  public:
    /// `waker` null: no call is held (a function without a ready replica answers 503).
    InvokeHandler(FunctionProvider& provider, LoadBalancer& balancer, Metrics& metrics,
                  std::string served_namespace, Waker* waker = nullptr,
                  std::chrono::nanoseconds hold_timeout = std::chrono::seconds(30));

    /// record_calls=all: every call answered is recorded there (but those a queue worker makes
    /// for an asynchronous call, which has its own record). Before the first call.
    void record_to(CallRecorder* recorder) { recorder_ = recorder; }

    /// What a call uses of the loop it arrived on.
    struct Lane {
        AsyncProxy& proxy;
        HoldQueue* holds = nullptr;  ///< Null when the handler has no waker.
    };

    /// Event loop thread. `done` runs on the loop thread, perhaps before start() returns; the
    /// exchange (its request) must stay valid until it has run.
    void start(const Exchange& exchange, CallTarget target, Lane lane,
               std::function<void(Response&&)> done);

    struct Call;  ///< One call in progress (invoke_handler.cpp).

  private:
    /// Validates the name and resolves it: a call ready to forward, or the answer already.
    std::unique_ptr<Call> begin(const Request& request, CallTarget target, Response& early);
    Response finish(Call& call, ProxyResult&& result);
    /// Counts the finished call and adds the call headers.
    void stamp(const Call& call, Response& response);
    void attempt(std::shared_ptr<Call> call, std::size_t position);
    /// Holds the call until a replica answers; answers 429 when the Waker's caps are reached.
    void hold(std::shared_ptr<Call> call);

    FunctionProvider& provider_;
    LoadBalancer& balancer_;
    Metrics& metrics_;
    const std::string served_namespace_;
    Waker* const waker_;
    const std::chrono::nanoseconds hold_timeout_;
    CallRecorder* recorder_ = nullptr;
};

/// A random RFC 4122 version 4 UUID.
std::string new_uuid();

}  // namespace faas::gateway
