// Calls a function: resolves the name through the provider, balances over its ready
// replicas, forwards with the proxy, and answers with the function's own response plus the
// gateway's call headers. Metrics are recorded only for functions that exist.
//
// One core, two drivers: the event loop (start(), asynchronous, AsyncProxy) and cpp-httplib's
// handler threads (handle_*(), blocking, Proxy), for requests the loop hands off.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "async_proxy.h"
#include "load_balancer.h"
#include "metrics.h"
#include "provider/function_provider.h"
#include "proxy.h"
#include "routes.h"

namespace faas::gateway {

/// What a call needs of the client's request, viewed: the views must outlive the call.
struct CallRequest {
    std::string_view method;
    std::string_view target;  ///< Path and query as written.
    std::string_view remote_addr;
    std::span<const std::pair<std::string_view, std::string_view>> headers;
    std::string_view body;

    std::string_view header(std::string_view name) const;
};

struct CallResponse {
    int status = 200;
    HeaderList headers;
    std::string body;
};

class InvokeHandler {
  public:
    InvokeHandler(FunctionProvider& provider, Proxy& proxy, LoadBalancer& balancer,
                  Metrics& metrics, std::string served_namespace);

    /// Event loop: /function/<name>[/<path>] (any method) or POST / (X-Function, Alexa).
    /// `done` runs on the loop thread, perhaps before start() returns.
    void start(const CallRequest& request, AsyncProxy& proxy,
               std::function<void(CallResponse&&)> done);

    /// cpp-httplib: /function/<name>[/<path>], any method.
    void handle_function_path(const httplib::Request& req, httplib::Response& res,
                              const std::string& body);
    /// cpp-httplib: POST / with X-Function, or an Alexa skill body.
    void handle_root(const httplib::Request& req, httplib::Response& res, const std::string& body);

    struct Call;  ///< One call in progress (invoke_handler.cpp).

  private:
    /// Validates the name and resolves it: a call ready to forward, or the answer already.
    std::unique_ptr<Call> begin(const CallRequest& request, CallResponse& early);
    CallResponse finish(Call& call, ProxyResult&& result);
    /// Counts the finished call and adds the call headers.
    void stamp(const Call& call, CallResponse& response);
    void attempt(std::shared_ptr<Call> call, std::size_t position, AsyncProxy& proxy);
    void run_blocking(const CallRequest& request, httplib::Response& res);

    FunctionProvider& provider_;
    Proxy& proxy_;
    LoadBalancer& balancer_;
    Metrics& metrics_;
    const std::string served_namespace_;
};

/// A random RFC 4122 version 4 UUID.
std::string new_uuid();

}  // namespace faas::gateway
