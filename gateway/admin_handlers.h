// The OpenFaaS admin API under /system/, plus /healthz and /metrics: one method per route of
// the route table (routes.h), each taking the request (body read and bounded) and returning
// the answer. Typed failures (errors.h) propagate to the server's one boundary, which answers
// them with status_of().
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "async/async_calls.h"
#include "build/build_manager.h"
#include "http/message.h"
#include "load_balancer.h"
#include "metrics.h"
#include "provider/function_provider.h"

namespace faas::gateway {

class AdminHandlers {
  public:
    AdminHandlers(FunctionProvider& provider, Metrics& metrics, LoadBalancer& balancer,
                  std::string served_namespace, int max_replicas,
                  std::chrono::nanoseconds max_follow, const std::atomic<bool>& draining,
                  BuildManager* builds = nullptr, bool builtin_autoscaler = false,
                  AsyncCalls* async_calls = nullptr);

    Response healthz(const Request& request);
    /// Refreshes gateway_service_count from the provider and renders every metric.
    Response metrics(const Request& request);
    Response list_functions(const Request& request);
    Response get_function(const Request& request);
    Response deploy(const Request& request);
    Response update(const Request& request);
    Response remove(const Request& request);
    Response scale(const Request& request);
    Response info(const Request& request);
    Response namespaces(const Request& request);
    /// Streams the lines (newline-delimited JSON); with follow=true until the client goes, the
    /// gateway drains or max_follow has passed.
    Response logs(const Request& request);
    Response alert(const Request& request);
    Response list_secrets(const Request& request);
    Response create_secret(const Request& request);
    Response update_secret(const Request& request);
    Response delete_secret(const Request& request);

    // Builds from source (build/build_handlers.cpp); 501 when builds are off.
    /// POST /system/builds: JSON, or a tar(.gz) with X-Build-Deployment. 202 and the record.
    Response create_build(const Request& request);
    Response list_builds(const Request& request);
    Response get_build(const Request& request);
    Response cancel_build(const Request& request);
    /// Newline-delimited JSON; with follow=true until the build ends.
    Response build_logs(const Request& request);
    /// POST /system/functions/<name>/rollback.
    Response rollback(const Request& request);

    // Asynchronous calls (async/call_handlers.cpp); 503 without a queue.
    /// POST /async-function/<name>[/<path>]: 202 with X-Call-Id once the call is stored.
    Response enqueue_call(const Request& request);
    /// GET /system/calls?function=&status=&limit=: records, newest first.
    Response list_calls(const Request& request);
    Response get_call(const Request& request);
    /// DELETE /system/calls/<id>: a queued call is not made.
    Response cancel_call(const Request& request);

  private:
    /// The function a path segment names ("fn" or "fn.ns"); throws NotFound for an invalid
    /// name or another namespace, as a call to it would.
    std::string function_in_path(std::string_view segment) const;
    /// Throws NotFound when the request's `namespace` parameter names another namespace.
    void check_namespace_param(const Request& request) const;

    FunctionProvider& provider_;
    Metrics& metrics_;
    LoadBalancer& balancer_;
    const std::string served_namespace_;
    const int max_replicas_;
    const std::chrono::nanoseconds max_follow_;
    const std::atomic<bool>& draining_;
    BuildManager* const builds_;
    /// Alerts for functions the built-in autoscaler manages are ignored.
    const bool builtin_autoscaler_;
    AsyncCalls* const async_calls_;
    AsyncCalls& async_calls() const;

    BuildManager& builds() const;
    /// The build id in a path after `prefix`; NotFound for one that cannot be an id.
    std::string build_id_in_path(std::string_view path, std::string_view suffix) const;
};

}  // namespace faas::gateway
