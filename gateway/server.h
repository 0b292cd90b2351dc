// Wires config, auth, provider, proxy, balancer, metrics and handlers onto the gateway's
// front door: function calls are served on the event loops (event_server.h), everything else
// by the cpp-httplib routes below on a worker thread. Owns the graceful drain: on stop, new
// requests get 503 while those in flight finish.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "admin_handlers.h"
#include "async_proxy.h"
#include "auth.h"
#include "config.h"
#include "event_server.h"
#include "invoke_handler.h"
#include "load_balancer.h"
#include "metrics.h"
#include "provider/function_provider.h"
#include "proxy.h"

namespace faas::gateway {

/// Call first thing in main: caps glibc's malloc arenas at two per core. With a thread per
/// connection glibc would otherwise grow up to eight arenas per core, each keeping its own free
/// memory, which shows as RSS that stays after a burst of connections.
void limit_malloc_arenas();

class GatewayServer final : private EventServerHandler {
  public:
    GatewayServer(const Config& config, FunctionProvider& provider, std::optional<BasicAuth> auth);
    ~GatewayServer();

    /// Binds host:port (0 = any free port); returns the port or -1.
    int bind(const std::string& host, int port);
    /// Serves until drain_and_stop.
    void listen();
    /// New requests get 503; waits up to `grace` for requests in flight, then stops listening.
    void drain_and_stop(std::chrono::nanoseconds grace);

    Metrics& metrics() { return metrics_; }

  private:
    // The event loops' side.
    bool claims(const RequestHead& head) override;
    void serve(LoopExchange& exchange) override;
    bool serve_handed_off(httplib::Stream& stream, bool& connection_closed) override;

    /// cpp-httplib's request processing, fed one request at a time by the event server.
    class Routes final : public httplib::Server {
      public:
        Routes();
        ~Routes() override;
        bool serve(httplib::Stream& stream, bool& connection_closed) {
            return process_request(stream, false, connection_closed, nullptr);
        }
        /// Ends streaming responses (logs with follow) as a stopping cpp-httplib server would.
        void end_streams();

      private:
        int placeholder_fd_ = -1;
    };

    void register_routes();
    /// The one handler boundary: counts the request in flight and maps typed failures.
    template <typename Fn>
    void guarded(httplib::Response& res, Fn&& fn);
    template <typename Fn>
    void route_with_body(const std::string& method, const std::string& pattern, Fn fn);

    const Config config_;
    FunctionProvider& provider_;
    std::optional<BasicAuth> auth_;
    Metrics metrics_;
    Proxy proxy_;
    LoadBalancer balancer_;
    std::atomic<bool> draining_{false};
    std::atomic<int> inflight_{0};
    InvokeHandler invoke_;
    AdminHandlers admin_;
    Routes server_;
    EventServer front_;
    std::vector<std::unique_ptr<AsyncProxy>> async_proxies_;  ///< One per loop; go before it.
};

}  // namespace faas::gateway
