// Function invocation.
#include "invoke_handler.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include "http_server.h"

namespace faas::gateway {
namespace {

// Headers the gateway sets on every answer: a function's own are dropped.
bool is_call_header(std::string_view name) {
    return iequals(name, "X-Call-Id") || iequals(name, "X-Start-Time") ||
           iequals(name, "X-Duration-Seconds");
}

// Is `name` listed in a Connection header value ("close, X-Foo")? Those are hop-by-hop too.
bool named_in_connection(std::string_view connection, std::string_view name) {
    std::size_t start = 0;
    while (start < connection.size()) {
        auto end = connection.find(',', start);
        if (end == std::string_view::npos) end = connection.size();
        auto token = connection.substr(start, end - start);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
        if (iequals(token, name)) return true;
        start = end + 1;
    }
    return false;
}

CallResponse plain(int status, std::string message) {
    CallResponse response;
    response.status = status;
    response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    message.push_back('\n');
    response.body = std::move(message);
    return response;
}

// A call header value from the client is kept only when it is safe to send back as is.
bool is_clean_value(std::string_view value) {
    for (unsigned char c : value)
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

// `headers` holds the views the request points at.
CallRequest view_of(const httplib::Request& req, std::string_view target, const std::string& body,
                    HeaderViews& headers) {
    CallRequest request;
    request.method = req.method;
    request.target = target;
    request.remote_addr = req.remote_addr;
    request.body = body;
    headers.reserve(req.headers.size());
    for (const auto& [name, value] : req.headers)
        if (!is_synthetic_header(name)) headers.emplace_back(name, value);
    request.headers = headers;
    return request;
}

void copy_to(CallResponse&& response, httplib::Response& res) {
    res.status = response.status;
    for (auto& [name, value] : response.headers)
        res.headers.emplace(std::move(name), std::move(value));
    res.body = std::move(response.body);
}

}  // namespace

std::string_view CallRequest::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

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
    std::string forwarded_for;
    Resolution resolution;
    std::vector<std::size_t> order;
    ProxyRequest request;  ///< Views the client's request and the strings above.
    std::optional<LoadBalancer::InflightGuard> inflight;
    std::function<void(CallResponse&&)> done;
};

InvokeHandler::InvokeHandler(FunctionProvider& provider, Proxy& proxy, LoadBalancer& balancer,
                             Metrics& metrics, std::string served_namespace)
    : provider_(provider),
      proxy_(proxy),
      balancer_(balancer),
      metrics_(metrics),
      served_namespace_(std::move(served_namespace)) {}

std::unique_ptr<InvokeHandler::Call> InvokeHandler::begin(const CallRequest& request,
                                                          CallResponse& early) {
    // Which function, and the path it gets.
    std::string function;
    std::string upstream_path;
    if (request.target.rfind("/function/", 0) == 0) {
        auto route = parse_function_target(request.target, served_namespace_);
        if (!route || !route->name.ref) {
            auto error = route ? route->name.error : RouteError::kNoName;
            early = error == RouteError::kOtherNamespace
                        ? plain(404, "Namespace not served by this gateway.")
                        : plain(400, "Invalid function name.");
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
                        : plain(400, "Invalid function name.");
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
    call->method = request.method;
    std::string_view client_call_id = request.header("X-Call-Id");
    call->call_id = !client_call_id.empty() && is_clean_value(client_call_id)
                        ? std::string(client_call_id)
                        : new_uuid();

    // Only names the provider lists go further: no series, no dial for anything else.
    call->resolution = provider_.resolve(call->function);
    if (!call->resolution.exists) {
        early = plain(404, "Cannot find service: " + call->function + ".");
        return nullptr;
    }
    metrics_.invocation_started(call->function);
    if (call->resolution.ready.empty()) {
        early = plain(503, "No endpoints available for: " + call->function + ".");
        stamp(*call, early);
        return nullptr;
    }
    call->order = balancer_.order(call->function, call->resolution.ready);

    // The upstream request views the client's: header strings are copied once, by the proxy.
    ProxyRequest& upstream = call->request;
    upstream.method = request.method;
    upstream.path = call->upstream_path;
    upstream.body = request.body;
    upstream.headers.reserve(request.headers.size() + 3);
    const std::string_view connection = request.header("Connection");
    const std::string_view host = request.header("Host");
    bool has_host = false;
    for (const auto& [name, value] : request.headers) {
        if (name.size() == 4 && iequals(name, "Host")) has_host = true;
        if (is_hop_by_hop(name) || iequals(name, "X-Call-Id") || iequals(name, "X-Forwarded-Host"))
            continue;
        if (!connection.empty() && named_in_connection(connection, name)) continue;
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

CallResponse InvokeHandler::finish(Call& call, ProxyResult&& result) {
    CallResponse response;
    {
        switch (result.outcome) {
            case ProxyOutcome::kOk:
                response.status = result.status;
                response.headers.reserve(result.headers.size() + 3);
                for (auto& [name, value] : result.headers) {
                    if (is_call_header(name)) continue;
                    if (is_hop_by_hop(name)) {
                        // A HEAD answer has no body, so its length is only in the header: keep it.
                        if (call.method == "HEAD" && iequals(name, "Content-Length"))
                            response.headers.emplace_back(std::move(name), std::move(value));
                        continue;
                    }
                    response.headers.emplace_back(std::move(name), std::move(value));
                }
                response.body = std::move(result.body);
                break;
            case ProxyOutcome::kRefused:
                response = plain(502, "Can't reach service for: " + call.function + ".");
                break;
            case ProxyOutcome::kTimeout:
                response = plain(504, "Timed out calling: " + call.function + ".");
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

void InvokeHandler::stamp(const Call& call, CallResponse& response) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - call.start).count();
    metrics_.invocation_finished(call.function, response.status, seconds);
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

void InvokeHandler::start(const CallRequest& request, AsyncProxy& proxy,
                          std::function<void(CallResponse&&)> done) {
    CallResponse early;
    std::shared_ptr<Call> call = begin(request, early);
    if (!call) {
        done(std::move(early));
        return;
    }
    call->done = std::move(done);
    attempt(std::move(call), 0, proxy);
}

void InvokeHandler::attempt(std::shared_ptr<Call> call, std::size_t position, AsyncProxy& proxy) {
    const Endpoint& endpoint = call->resolution.ready[call->order[position]];
    call->inflight.emplace(balancer_.track(endpoint));
    Call& current = *call;
    proxy.forward(
        endpoint, current.request,
        [this, call = std::move(call), position, &proxy](ProxyResult&& result) mutable {
            call->inflight.reset();
            // Retry only while nothing was sent: a refused connection. Once a replica
            // had the request, running it twice could repeat its side effects.
            if (result.outcome == ProxyOutcome::kRefused && position + 1 < call->order.size()) {
                attempt(std::move(call), position + 1, proxy);
                return;
            }
            auto done = std::move(call->done);
            done(finish(*call, std::move(result)));
        });
}

void InvokeHandler::run_blocking(const CallRequest& request, httplib::Response& res) {
    CallResponse early;
    auto call = begin(request, early);
    if (!call) {
        copy_to(std::move(early), res);
        return;
    }
    ProxyResult result;
    for (std::size_t index : call->order) {
        const Endpoint& endpoint = call->resolution.ready[index];
        auto inflight = balancer_.track(endpoint);
        result = proxy_.forward(endpoint, call->request);
        if (result.outcome != ProxyOutcome::kRefused) break;
    }
    copy_to(finish(*call, std::move(result)), res);
}

void InvokeHandler::handle_function_path(const httplib::Request& req, httplib::Response& res,
                                         const std::string& body) {
    HeaderViews headers;
    run_blocking(view_of(req, req.target, body, headers), res);
}

void InvokeHandler::handle_root(const httplib::Request& req, httplib::Response& res,
                                const std::string& body) {
    HeaderViews headers;
    run_blocking(view_of(req, "/", body, headers), res);
}

}  // namespace faas::gateway
