// The gateway's request dispatch: route table lookup, auth, the lanes, the error boundary.
#include "server.h"

#include <malloc.h>

#include <algorithm>
#include <thread>

#include "log.h"
#include "routes.h"

namespace faas::gateway {
namespace {

using Clock = std::chrono::steady_clock;

// Counts a request as in flight for the drain, from dispatch to answer.
class Inflight {
  public:
    explicit Inflight(std::atomic<int>& count) : count_(&count) { ++*count_; }
    Inflight(Inflight&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
    Inflight& operator=(Inflight&&) = delete;
    ~Inflight() {
        if (count_ != nullptr) --*count_;
    }

  private:
    std::atomic<int>* count_;
};

}  // namespace

void limit_malloc_arenas() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    ::mallopt(M_ARENA_MAX, static_cast<int>(2 * cores));
}

Response error_response(const std::exception& e) {
    const int status = status_of(e);
    if (status == 502) {
        log_line(std::string("Provider error: ") + e.what());
        return Response::text(502, std::string("Provider error: ") + e.what());
    }
    if (status == 500) {
        log_line(std::string("Internal error: ") + e.what());
        return Response::text(500, std::string("Internal error: ") + e.what());
    }
    return Response::text(status, e.what());
}

GatewayServer::GatewayServer(const Config& config, FunctionProvider& provider,
                             std::optional<BasicAuth> auth, BuildManager* builds,
                             AsyncCalls* async_calls)
    : config_(config),
      provider_(provider),
      auth_(std::move(auth)),
      budget_(config.max_buffered_bytes),
      balancer_(config.balancing),
      waker_(config.scale_from_zero
                 ? std::make_unique<Waker>(
                       provider, WakerOptions{std::chrono::milliseconds(10), config.max_held_calls,
                                              config.max_held_bytes})
                 : nullptr),
      invoke_(provider, balancer_, metrics_, config.function_namespace, waker_.get(),
              config.scale_from_zero_timeout),
      admin_(provider, metrics_, balancer_, config.function_namespace, config.max_replicas,
             config.write_timeout, draining_, builds, config.autoscale, async_calls),
      front_(
          [&config] {
              ServerOptions options;
              options.read_timeout = config.read_timeout;
              options.write_timeout = config.write_timeout;
              options.max_body_bytes = config.max_request_bytes;
              options.worker_threads = static_cast<std::size_t>(config.threads);
              return options;
          }(),
          *this, &budget_) {
    ProxyOptions proxy_options;
    proxy_options.timeout = config.upstream_timeout;
    proxy_options.max_response_bytes = config.max_response_bytes;
    proxy_options.budget = &budget_;
    for (std::size_t i = 0; i < front_.loop_count(); ++i) {
        async_proxies_.push_back(std::make_unique<AsyncProxy>(front_.loop(i), proxy_options));
        if (waker_) hold_queues_.push_back(std::make_unique<HoldQueue>(front_.loop(i), *waker_));
    }
    if (config.autoscale) {
        autoscaler_ = std::make_unique<ScaleController>(provider, metrics_, waker_.get(),
                                                        config.autoscale_interval);
        autoscaler_->start();
    }
}

GatewayServer::~GatewayServer() {
    if (autoscaler_) autoscaler_->stop();
    // Stops the loops before the proxies and hold queues that live on them go.
    front_.stop();
    hold_queues_.clear();
    if (waker_) waker_->stop();
}

void GatewayServer::serve(Exchange& exchange) {
    const auto started = Clock::now();
    const Request& request = exchange.request();
    RouteMatch match = find_route(request.method(), request.path());
    // The method is counted from the request's own bytes: read it before they are released.
    const std::string_view label = match.label;
    auto count = [this, started, label](std::string_view method, int status) {
        metrics_.http_request(method, label, status,
                              std::chrono::duration<double>(Clock::now() - started).count());
    };
    auto answer = [&exchange, count, method = request.method()](Response&& response) {
        count(method, response.status);
        exchange.respond(std::move(response));
    };

    if (draining_.load(std::memory_order_relaxed)) {
        Response response = Response::text(503, "The gateway is shutting down.");
        response.close = true;
        return answer(std::move(response));
    }
    if (match.route == nullptr) {
        // As OpenFaaS's router: an unknown path is 404, a method the path does not take 405.
        if (match.allowed.empty()) return answer(Response::text(404, "404 page not found"));
        Response response =
            Response::text(405, "Method " + std::string(request.method()) + " is not allowed on " +
                                    std::string(request.path()) + ": use " + match.allowed + ".");
        response.headers.emplace_back("Allow", std::move(match.allowed));
        return answer(std::move(response));
    }
    const Route& route = *match.route;
    if (route.admin && auth_ && !auth_->allows(request.header("Authorization"))) {
        // Nothing of the request is acted on: no side effect of any kind.
        Response response = Response::text(401, "invalid credentials");
        response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Restricted\"");
        return answer(std::move(response));
    }

    if (route.handler == nullptr) {  // a function call
        const CallTarget target = route.pattern == "/" ? CallTarget::kHeader : CallTarget::kPath;
        // Counted by hand rather than with an Inflight held by the callback: a shared_ptr per
        // call would be one more allocation on the hot path.
        inflight_.fetch_add(1, std::memory_order_relaxed);
        try {
            InvokeHandler::Lane lane{
                *async_proxies_[request.loop_index],
                hold_queues_.empty() ? nullptr : hold_queues_[request.loop_index].get()};
            invoke_.start(exchange, target, lane, [this, answer](Response&& response) {
                inflight_.fetch_sub(1, std::memory_order_relaxed);
                answer(std::move(response));
            });
        } catch (const std::exception& e) {
            // Only before the call was handed to curl (a provider failure, say): `done` has
            // not run and never will.
            inflight_.fetch_sub(1, std::memory_order_relaxed);
            answer(error_response(e));
        }
        return;
    }
    Inflight inflight(inflight_);
    if (route.lane == Lane::kLoop) return answer(run_admin(route, request));
    exchange.respond_from_worker(
        [this, &route, &request, count, held = std::make_shared<Inflight>(std::move(inflight))] {
            Response response = run_admin(route, request);
            count(request.method(), response.status);
            return response;
        });
}

Response GatewayServer::run_admin(const Route& route, const Request& request) {
    try {
        return (admin_.*route.handler)(request);
    } catch (const std::exception& e) {
        return error_response(e);
    }
}

int GatewayServer::bind(const std::string& host, int port) {
    return front_.bind(host, port, 1024);
}

void GatewayServer::listen() {
    front_.run();
}

void GatewayServer::drain_and_stop(std::chrono::nanoseconds grace) {
    draining_.store(true);
    const auto deadline = Clock::now() + grace;
    // Bounded by `grace`: requests still running then are cut off by the stop.
    while (inflight_.load() > 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    front_.stop();
}

}  // namespace faas::gateway
