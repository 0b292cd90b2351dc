// Calls a function: resolves the name through the provider, balances over its ready
// replicas, forwards with the asynchronous proxy on the caller's event loop, and answers with
// the function's own response plus the gateway's call headers. Every call, however it arrived
// (plain, chunked, with Expect, HTTP/1.0), takes this one path. Metrics are recorded only for
// functions that exist.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "async_proxy.h"
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
    InvokeHandler(FunctionProvider& provider, LoadBalancer& balancer, Metrics& metrics,
                  std::string served_namespace);

    /// Event loop thread. `done` runs on the loop thread, perhaps before start() returns; the
    /// request must stay valid until it has run.
    void start(const Request& request, CallTarget target, AsyncProxy& proxy,
               std::function<void(Response&&)> done);

    struct Call;  ///< One call in progress (invoke_handler.cpp).

  private:
    /// Validates the name and resolves it: a call ready to forward, or the answer already.
    std::unique_ptr<Call> begin(const Request& request, CallTarget target, Response& early);
    Response finish(Call& call, ProxyResult&& result);
    /// Counts the finished call and adds the call headers.
    void stamp(const Call& call, Response& response);
    void attempt(std::shared_ptr<Call> call, std::size_t position, AsyncProxy& proxy);

    FunctionProvider& provider_;
    LoadBalancer& balancer_;
    Metrics& metrics_;
    const std::string served_namespace_;
};

/// A random RFC 4122 version 4 UUID.
std::string new_uuid();

}  // namespace faas::gateway
