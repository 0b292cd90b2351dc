// Calling a function.
#include "invoke_handler.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include "http_text.h"
#include "queue_names.h"
#include "settings.h"

namespace faas::gateway {
namespace {

// Headers the gateway sets on every answer: a function's own are dropped.
bool is_call_header(std::string_view name) {
    return iequals(name, "X-Call-Id") || iequals(name, "X-Start-Time") ||
           iequals(name, "X-Duration-Seconds");
}

Response plain(int status, std::string_view message) {
    return Response::text(status, message);
}

// Headers the proxy writes itself, from the body it sends.
bool is_framing_header(std::string_view name) {
    return iequals(name, "Host") || iequals(name, "Content-Length") || iequals(name, "Expect");
}

// A call header value from the client is kept only when it is safe to send back as is.
bool is_clean_value(std::string_view value) {
    for (unsigned char c : value)
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

}  // namespace

std::string new_uuid() {
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uint64_t high = random();
    std::uint64_t low = random();
    high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
    low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // RFC 4122 variant
    // 32 hex digits, most significant first, as 8-4-4-4-12.
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text(36, '-');
    std::size_t at = 0;
    for (int digit = 0; digit < 32; ++digit) {
        if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
        const std::uint64_t word = digit < 16 ? high : low;
        const int shift = (15 - digit % 16) * 4;
        text[at++] = kHex[(word >> shift) & 0xF];
    }
    return text;
}

struct InvokeHandler::Call {
    std::string function;
    std::string upstream_path;
    std::string method;  ///< For HEAD's Content-Length.
    std::chrono::system_clock::time_point wall_start;
    std::chrono::steady_clock::time_point start;
    std::string call_id;
    bool recorded = false;  ///< Its record goes to the recorder when it is answered.
    std::string forwarded_for;
    Resolution resolution;
    std::vector<std::size_t> order;
    ProxyRequest request;  ///< Views the client's request and the strings above.
    std::optional<LoadBalancer::InflightGuard> inflight;
    std::function<void(Response&&)> done;
    // Where the call goes on: its loop's proxy and hold queue, and its client.
    const Exchange* exchange = nullptr;
    AsyncProxy* proxy = nullptr;
    HoldQueue* holds = nullptr;
    /// Set when the call is first held: being held again (its replica refused) keeps it.
    std::optional<HoldQueue::Clock::time_point> hold_deadline;
};

InvokeHandler::InvokeHandler(FunctionProvider& provider, LoadBalancer& balancer, Metrics& metrics,
                             std::string served_namespace, Waker* waker,
                             std::chrono::nanoseconds hold_timeout)
    : provider_(provider),
      balancer_(balancer),
      metrics_(metrics),
      served_namespace_(std::move(served_namespace)),
      waker_(waker),
      hold_timeout_(hold_timeout) {}

std::unique_ptr<InvokeHandler::Call> InvokeHandler::begin(const Request& request, CallTarget target,
                                                          Response& early) {
    // Which function, and the path it gets. A name no function can have is not found, as in
    // OpenFaaS, decided before any lookup or dial.
    std::string function;
    std::string upstream_path;
    if (target == CallTarget::kPath) {
        auto route = parse_function_target(request.target(), served_namespace_);
        if (!route || !route->name.ref) {
            auto error = route ? route->name.error : RouteError::kNoName;
            early = error == RouteError::kOtherNamespace
                        ? plain(404, "Namespace not served by this gateway.")
                        : plain(404, "Cannot find service: invalid function name.");
            return nullptr;
        }
        function = std::move(route->name.ref->name);
        upstream_path = std::move(route->upstream_path);
    } else {
        std::string requested(request.header("X-Function"));
        if (requested.empty())
            if (auto intent = alexa_intent_name(request.body)) requested = *intent;
        if (requested.empty()) {
            early =
                plain(400, "Provide an x-function header or valid route /function/function_name.");
            return nullptr;
        }
        auto parsed = parse_function_name(requested, served_namespace_);
        if (!parsed.ref) {
            early = parsed.error == RouteError::kOtherNamespace
                        ? plain(404, "Namespace not served by this gateway.")
                        : plain(404, "Cannot find service: invalid function name.");
            return nullptr;
        }
        function = std::move(parsed.ref->name);
        upstream_path = "/";
    }

    // Heap-allocated and never moved: the upstream request may view its strings.
    auto call = std::make_unique<Call>();
    call->upstream_path = std::move(upstream_path);
    call->wall_start = std::chrono::system_clock::now();
    call->start = std::chrono::steady_clock::now();
    call->function = std::move(function);
    call->method = request.method();
    std::string_view client_call_id = request.header("X-Call-Id");
    call->call_id = !client_call_id.empty() && is_clean_value(client_call_id)
                        ? std::string(client_call_id)
                        : new_uuid();
    call->recorded = recorder_ != nullptr && request.header(queue::kQueuedCallHeader).empty();

    // Only names the provider lists go further: no series, no dial for anything else.
    call->resolution = provider_.resolve(call->function);
    if (!call->resolution.exists) {
        early = plain(404, "Cannot find service: " + call->function + ".");
        return nullptr;
    }
    metrics_.invocation_started(call->function);
    if (call->resolution.ready.empty()) {
        if (waker_ == nullptr) {
            early = plain(503, "No endpoints available for: " + call->function + ".");
            stamp(*call, early);
            return nullptr;
        }
        // Held by start() once the upstream request below is ready.
    } else {
        call->order = balancer_.order(call->function, call->resolution.ready);
    }

    // The upstream request views the client's: header strings are copied once, by the proxy.
    ProxyRequest& upstream = call->request;
    upstream.method = request.method();
    upstream.path = call->upstream_path;
    upstream.body = request.body;
    const auto& headers = request.head->headers;
    upstream.headers.reserve(headers.size() + 3);
    const std::string_view connection = request.header("Connection");
    const std::string_view host = request.header("Host");
    bool has_host = false;
    for (const auto& [name, value] : headers) {
        if (name.size() == 4 && iequals(name, "Host")) has_host = true;
        if (is_hop_by_hop(name) || is_framing_header(name) || iequals(name, "X-Call-Id") ||
            iequals(name, "X-Forwarded-Host") || iequals(name, queue::kQueuedCallHeader))
            continue;
        if (!connection.empty() && has_token(connection, name)) continue;
        if (iequals(name, "X-Forwarded-For")) {
            call->forwarded_for = value;
            continue;
        }
        upstream.headers.emplace_back(name, value);
    }
    if (!request.remote_addr.empty()) {
        if (!call->forwarded_for.empty()) call->forwarded_for += ", ";
        call->forwarded_for += request.remote_addr;
    }
    if (!call->forwarded_for.empty())
        upstream.headers.emplace_back("X-Forwarded-For", call->forwarded_for);
    if (has_host) upstream.headers.emplace_back("X-Forwarded-Host", host);
    upstream.headers.emplace_back("X-Call-Id", call->call_id);
    return call;
}

Response InvokeHandler::finish(Call& call, ProxyResult&& result) {
    Response response;
    {
        switch (result.outcome) {
            case ProxyOutcome::kOk:
                response.status = result.status;
                response.headers.reserve(result.headers.size() + 3);
                for (auto& [name, value] : result.headers) {
                    if (is_call_header(name)) continue;
                    if (is_hop_by_hop(name) || iequals(name, "Content-Length")) {
                        // A HEAD answer has no body, so its length is only in the header: keep it.
                        if (call.method == "HEAD" && iequals(name, "Content-Length"))
                            response.headers.emplace_back(std::move(name), std::move(value));
                        continue;
                    }
                    response.headers.emplace_back(std::move(name), std::move(value));
                }
                response.body = std::move(result.body);
                response.reservation = std::move(result.reservation);
                break;
            case ProxyOutcome::kRefused:
                response = plain(502, "Can't reach service for: " + call.function + ".");
                break;
            case ProxyOutcome::kTimeout:
                response = plain(504, "Timed out calling: " + call.function + ".");
                break;
            case ProxyOutcome::kOverBudget:
                response = plain(503,
                                 "The gateway is busy: too many large responses in flight. "
                                 "Try again.");
                break;
            case ProxyOutcome::kTooLarge:
            case ProxyOutcome::kFailed:
                response = plain(502, "Error calling " + call.function + ": " + result.error);
                break;
        }
    }
    stamp(call, response);
    return response;
}

void InvokeHandler::stamp(const Call& call, Response& response) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - call.start).count();
    metrics_.invocation_finished(call.function, response.status, seconds);
    if (call.recorded)
        recorder_->record(sync_call_record(call.call_id, call.function, response.status,
                                           call.wall_start, seconds));
    char duration[32];
    auto duration_end =
        std::to_chars(duration, duration + sizeof duration, seconds, std::chars_format::fixed, 6)
            .ptr;
    response.headers.emplace_back("X-Call-Id", call.call_id);
    response.headers.emplace_back(
        "X-Start-Time", std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           call.wall_start.time_since_epoch())
                                           .count()));
    response.headers.emplace_back("X-Duration-Seconds", std::string(duration, duration_end));
}

void InvokeHandler::start(const Exchange& exchange, CallTarget target, Lane lane,
                          std::function<void(Response&&)> done) {
    Response early;
    std::shared_ptr<Call> call = begin(exchange.request(), target, early);
    if (!call) {
        done(std::move(early));
        return;
    }
    call->done = std::move(done);
    call->exchange = &exchange;
    call->proxy = &lane.proxy;
    call->holds = lane.holds;
    if (call->resolution.ready.empty()) {
        hold(std::move(call));
        return;
    }
    attempt(std::move(call), 0);
}

void InvokeHandler::attempt(std::shared_ptr<Call> call, std::size_t position) {
    const Endpoint& endpoint = call->resolution.ready[call->order[position]];
    call->inflight.emplace(balancer_.track(endpoint));
    Call& current = *call;
    current.proxy->forward(endpoint, current.request,
                           [this, call = std::move(call), position](ProxyResult&& result) mutable {
                               call->inflight.reset();
                               // Retry only while nothing was sent: a refused connection. Once a
                               // replica had the request, running it twice could repeat its side
                               // effects.
                               if (result.outcome == ProxyOutcome::kRefused) {
                                   if (position + 1 < call->order.size()) {
                                       attempt(std::move(call), position + 1);
                                       return;
                                   }
                                   // Every replica refused (stopping, restarting): wait for one
                                   // that answers.
                                   if (waker_ != nullptr && call->holds != nullptr) {
                                       hold(std::move(call));
                                       return;
                                   }
                               }
                               auto done = std::move(call->done);
                               done(finish(*call, std::move(result)));
                           });
}

void InvokeHandler::hold(std::shared_ptr<Call> call) {
    auto answer = [this](Call& held_call, Response response) {
        stamp(held_call, response);
        auto done = std::move(held_call.done);
        done(std::move(response));
    };
    std::optional<Waker::Ticket> ticket;
    if (call->holds != nullptr) ticket = waker_->admit(call->function, call->request.body.size());
    if (!ticket) {
        answer(*call, plain(429, "Too many calls are waiting for " + call->function +
                                     " to start. Try again."));
        return;
    }
    if (!call->hold_deadline)
        call->hold_deadline = HoldQueue::Clock::now() +
                              std::chrono::duration_cast<HoldQueue::Clock::duration>(hold_timeout_);
    HoldQueue::Held held;
    held.function = call->function;
    held.deadline = *call->hold_deadline;
    held.ticket = std::move(*ticket);
    held.client_gone = [exchange = call->exchange] { return exchange->client_gone(); };
    held.release = [this, call](std::vector<Endpoint> endpoints) mutable {
        call->resolution.ready = std::move(endpoints);
        call->order = balancer_.order(call->function, call->resolution.ready);
        attempt(std::move(call), 0);
    };
    held.end = [this, call, answer](HoldEnd end, const Waker::Status& status) {
        switch (end) {
            case HoldEnd::kClientGone:
                // Nobody reads it; counted apart from the function's own answers.
                answer(*call,
                       plain(499, "The client left while " + call->function + " was starting."));
                break;
            case HoldEnd::kTimeout:
                answer(
                    *call,
                    plain(504, "The function " + call->function + " did not become ready within " +
                                   format_duration(hold_timeout_) +
                                   (status.last_problem.empty() ? std::string(".")
                                                                : ": " + status.last_problem)));
                break;
            case HoldEnd::kFailed:
                answer(*call, plain(status.error_status, *status.error));
                break;
        }
    };
    call->holds->hold(std::move(held));
}

}  // namespace faas::gateway
