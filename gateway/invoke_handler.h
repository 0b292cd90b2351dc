// Calls a function: resolves the name through the provider, balances over its ready
// replicas, forwards with the proxy, and answers with the function's own response plus the
// gateway's call headers. Metrics are recorded only for functions that exist.
#pragma once

#include <httplib.h>

#include <string>

#include "load_balancer.h"
#include "metrics.h"
#include "provider/function_provider.h"
#include "proxy.h"
#include "routes.h"

namespace faas::gateway {

class InvokeHandler {
  public:
    InvokeHandler(FunctionProvider& provider, Proxy& proxy, LoadBalancer& balancer,
                  Metrics& metrics, std::string served_namespace);

    /// /function/<name>[/<path>], any method.
    void handle_function_path(const httplib::Request& req, httplib::Response& res,
                              const std::string& body);
    /// POST / with X-Function, or an Alexa skill body.
    void handle_root(const httplib::Request& req, httplib::Response& res, const std::string& body);

  private:
    void invoke(const httplib::Request& req, httplib::Response& res, const std::string& function,
                const std::string& upstream_path, const std::string& body);

    FunctionProvider& provider_;
    Proxy& proxy_;
    LoadBalancer& balancer_;
    Metrics& metrics_;
    const std::string served_namespace_;
};

/// A random RFC 4122 version 4 UUID.
std::string new_uuid();

}  // namespace faas::gateway
