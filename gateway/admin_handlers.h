// The OpenFaaS admin API under /system/: one method per route, each taking the request body
// already read (and bounded). Typed exceptions from parsing and the provider propagate to the
// server's single handler boundary, which turns them into status codes.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>

#include "load_balancer.h"
#include "metrics.h"
#include "provider/function_provider.h"

namespace faas::gateway {

class AdminHandlers {
  public:
    AdminHandlers(FunctionProvider& provider, Metrics& metrics, LoadBalancer& balancer,
                  std::string served_namespace, std::chrono::nanoseconds max_follow,
                  const std::atomic<bool>& draining);

    void list_functions(const httplib::Request& req, httplib::Response& res);
    void get_function(const httplib::Request& req, httplib::Response& res);
    void deploy(const std::string& body, httplib::Response& res);
    void update(const std::string& body, httplib::Response& res);
    void remove(const std::string& body, httplib::Response& res);
    void scale(const httplib::Request& req, const std::string& body, httplib::Response& res);
    void info(httplib::Response& res);
    void namespaces(httplib::Response& res);
    void logs(const httplib::Request& req, httplib::Response& res);
    void alert(const std::string& body, httplib::Response& res);
    void list_secrets(httplib::Response& res);
    void create_secret(const std::string& body, httplib::Response& res);
    void update_secret(const std::string& body, httplib::Response& res);
    void delete_secret(const std::string& body, httplib::Response& res);
    /// Refreshes gateway_service_count from the provider and renders every metric.
    void metrics(httplib::Response& res);

  private:
    /// The function a path segment names ("fn" or "fn.ns"); throws BadRequest / NotFound.
    std::string function_in_path(const std::string& segment) const;

    FunctionProvider& provider_;
    Metrics& metrics_;
    LoadBalancer& balancer_;
    const std::string served_namespace_;
    const std::chrono::nanoseconds max_follow_;
    const std::atomic<bool>& draining_;
};

}  // namespace faas::gateway
