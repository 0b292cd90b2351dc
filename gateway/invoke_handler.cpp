// Function invocation.
#include "invoke_handler.h"

#include <charconv>
#include <chrono>
#include <cstdio>
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

void plain(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(message + "\n", "text/plain; charset=utf-8");
}

}  // namespace

std::string new_uuid() {
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uint64_t high = random();
    std::uint64_t low = random();
    high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
    low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // RFC 4122 variant
    // 8-4-4-4-12 hex digits, most significant first.
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text(36, '-');
    std::size_t at = 0;
    for (int nibble = 15; nibble >= 0; --nibble) {
        if (at == 8 || at == 13 || at == 18) ++at;
        text[at++] = kHex[(high >> (nibble * 4)) & 0xF];
    }
    for (int nibble = 15; nibble >= 0; --nibble) {
        if (at == 23) ++at;
        text[at++] = kHex[(low >> (nibble * 4)) & 0xF];
    }
    return text;
}

InvokeHandler::InvokeHandler(FunctionProvider& provider, Proxy& proxy, LoadBalancer& balancer,
                             Metrics& metrics, std::string served_namespace)
    : provider_(provider),
      proxy_(proxy),
      balancer_(balancer),
      metrics_(metrics),
      served_namespace_(std::move(served_namespace)) {}

void InvokeHandler::handle_function_path(const httplib::Request& req, httplib::Response& res,
                                         const std::string& body) {
    auto route = parse_function_target(req.target, served_namespace_);
    if (!route || !route->name.ref) {
        auto error = route ? route->name.error : RouteError::kNoName;
        if (error == RouteError::kOtherNamespace)
            plain(res, 404, "Namespace not served by this gateway.");
        else
            plain(res, 400, "Invalid function name.");
        return;
    }
    invoke(req, res, route->name.ref->name, route->upstream_path, body);
}

void InvokeHandler::handle_root(const httplib::Request& req, httplib::Response& res,
                                const std::string& body) {
    std::string requested = req.get_header_value("X-Function");
    if (requested.empty())
        if (auto intent = alexa_intent_name(body)) requested = *intent;
    if (requested.empty()) {
        plain(res, 400, "Provide an x-function header or valid route /function/function_name.");
        return;
    }
    auto parsed = parse_function_name(requested, served_namespace_);
    if (!parsed.ref) {
        if (parsed.error == RouteError::kOtherNamespace)
            plain(res, 404, "Namespace not served by this gateway.");
        else
            plain(res, 400, "Invalid function name.");
        return;
    }
    invoke(req, res, parsed.ref->name, "/", body);
}

void InvokeHandler::invoke(const httplib::Request& req, httplib::Response& res,
                           const std::string& function, const std::string& upstream_path,
                           const std::string& body) {
    const auto wall_start = std::chrono::system_clock::now();
    const auto start = std::chrono::steady_clock::now();
    std::string call_id = req.get_header_value("X-Call-Id");
    if (call_id.empty()) call_id = new_uuid();

    auto finish = [&](int code) {
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        metrics_.invocation_finished(function, code, seconds);
        char duration[32];
        auto duration_end = std::to_chars(duration, duration + sizeof duration, seconds,
                                          std::chars_format::fixed, 6)
                                .ptr;
        res.set_header("X-Call-Id", call_id);  // the client's value: checked for CR/LF
        res.headers.emplace("X-Start-Time",
                            std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               wall_start.time_since_epoch())
                                               .count()));
        res.headers.emplace("X-Duration-Seconds", std::string(duration, duration_end));
    };

    // Only names the provider lists go further: no series, no dial for anything else.
    Resolution resolution = provider_.resolve(function);
    if (!resolution.exists) {
        plain(res, 404, "Cannot find service: " + function + ".");
        return;
    }
    metrics_.invocation_started(function);
    if (resolution.ready.empty()) {
        plain(res, 503, "No endpoints available for: " + function + ".");
        finish(503);
        return;
    }

    // The upstream request views the client's: header strings are copied once, by the proxy.
    ProxyRequest request;
    request.method = req.method;
    request.path = upstream_path;
    request.body = &body;
    request.headers.reserve(req.headers.size() + 3);
    std::string_view connection;
    if (auto it = req.headers.find("Connection"); it != req.headers.end()) connection = it->second;
    std::string_view host;
    if (auto it = req.headers.find("Host"); it != req.headers.end()) host = it->second;
    std::string forwarded_for;
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name) || is_hop_by_hop(name) || iequals(name, "X-Call-Id") ||
            iequals(name, "X-Forwarded-Host"))
            continue;
        if (!connection.empty() && named_in_connection(connection, name)) continue;
        if (iequals(name, "X-Forwarded-For")) {
            forwarded_for = value;
            continue;
        }
        request.headers.emplace_back(name, value);
    }
    if (!req.remote_addr.empty()) {
        if (!forwarded_for.empty()) forwarded_for += ", ";
        forwarded_for += req.remote_addr;
    }
    if (!forwarded_for.empty()) request.headers.emplace_back("X-Forwarded-For", forwarded_for);
    if (req.has_header("Host")) request.headers.emplace_back("X-Forwarded-Host", host);
    request.headers.emplace_back("X-Call-Id", call_id);

    ProxyResult result;
    // Retry only while nothing was sent: a refused connection. Once a replica had the request,
    // running it twice could repeat its side effects.
    for (std::size_t index : balancer_.order(function, resolution.ready)) {
        const Endpoint& endpoint = resolution.ready[index];
        auto inflight = balancer_.track(endpoint);
        result = proxy_.forward(endpoint, request);
        if (result.outcome != ProxyOutcome::kRefused) break;
    }

    switch (result.outcome) {
        case ProxyOutcome::kOk:
            break;
        case ProxyOutcome::kRefused:
            plain(res, 502, "Can't reach service for: " + function + ".");
            finish(502);
            return;
        case ProxyOutcome::kTimeout:
            plain(res, 504, "Timed out calling: " + function + ".");
            finish(504);
            return;
        case ProxyOutcome::kTooLarge:
        case ProxyOutcome::kFailed:
            plain(res, 502, "Error calling " + function + ": " + result.error);
            finish(502);
            return;
    }

    res.status = result.status;
    for (auto& [name, value] : result.headers) {
        if (is_call_header(name)) continue;
        if (is_hop_by_hop(name)) {
            // A HEAD answer has no body, so its length is only in the header: keep it.
            if (req.method == "HEAD" && iequals(name, "Content-Length"))
                res.headers.emplace(std::move(name), std::move(value));
            continue;
        }
        res.headers.emplace(std::move(name), std::move(value));
    }
    res.body = std::move(result.body);
    finish(result.status);
}

}  // namespace faas::gateway
