// Wires config, auth, provider, balancer, metrics and handlers onto the gateway's front door
// (http/event_server.h) through the route table (routes.h), and owns the one error boundary
// and the graceful drain: on stop, new requests get 503 while those in flight finish.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin_handlers.h"
#include "async_proxy.h"
#include "auth.h"
#include "autoscale/hold_queue.h"
#include "autoscale/scale_controller.h"
#include "autoscale/waker.h"
#include "config.h"
#include "http/event_server.h"
#include "invoke_handler.h"
#include "load_balancer.h"
#include "memory_budget.h"
#include "metrics.h"
#include "provider/function_provider.h"
#include "routes.h"

namespace faas::gateway {

/// Call first thing in main: caps glibc's malloc arenas at two per core, so memory freed after
/// a burst on many threads is not kept in arenas of their own.
void limit_malloc_arenas();

/// The answer for a failure: status_of(e) and the message (logged when it is the gateway's or
/// the provider's fault, not the request's).
Response error_response(const std::exception& e);

class GatewayServer final : private RequestHandler {
  public:
    /// `builds` serves /system/builds and rollbacks; null: those answer 501.
    /// `async_calls` serves /async-function and /system/calls; null: those answer 503.
    GatewayServer(const Config& config, FunctionProvider& provider, std::optional<BasicAuth> auth,
                  BuildManager* builds = nullptr, AsyncCalls* async_calls = nullptr);
    ~GatewayServer();

    /// Serves `collectable`'s series on /metrics too; before listen().
    void include_metrics(std::shared_ptr<prometheus::Collectable> collectable) {
        metrics_.include(std::move(collectable));
    }
    /// Every call answered is recorded there (record_calls=all), its counters on /metrics;
    /// before listen(). The recorder must outlive the server.
    void record_calls(CallRecorder& recorder) {
        invoke_.record_to(&recorder);
        metrics_.include(recorder.registry());
    }
    /// Binds host:port (0 = any free port); returns the port or -1.
    int bind(const std::string& host, int port);
    /// Serves until drain_and_stop.
    void listen();
    /// New requests get 503; waits up to `grace` for requests in flight, then stops listening.
    void drain_and_stop(std::chrono::nanoseconds grace);

  private:
    void serve(Exchange& exchange) override;
    /// Runs an admin handler inside the error boundary.
    Response run_admin(const Route& route, const Request& request);

    const Config config_;
    FunctionProvider& provider_;
    std::optional<BasicAuth> auth_;
    MemoryBudget budget_;
    Metrics metrics_;
    LoadBalancer balancer_;
    std::unique_ptr<Waker> waker_;  ///< Null when scale_from_zero is off.
    std::atomic<bool> draining_{false};
    std::atomic<int> inflight_{0};
    InvokeHandler invoke_;
    AdminHandlers admin_;
    EventServer front_;
    std::vector<std::unique_ptr<AsyncProxy>> async_proxies_;  ///< One per loop; go before it.
    std::vector<std::unique_ptr<HoldQueue>> hold_queues_;     ///< One per loop, with a waker.
    std::unique_ptr<ScaleController> autoscaler_;             ///< Null when autoscale is off.
};

}  // namespace faas::gateway
