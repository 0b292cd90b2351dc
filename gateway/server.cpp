// The gateway's HTTP server.
#include "server.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "function_types.h"
#include "http_server.h"
#include "log.h"
#include "routes.h"

namespace faas::gateway {
namespace {

thread_local std::chrono::steady_clock::time_point request_start;

// Is `method` in an Allow header value ("GET, HEAD, POST")?
bool allows(std::string_view allowed, std::string_view method) {
    while (!allowed.empty()) {
        const auto comma = allowed.find(',');
        if (allowed.substr(0, comma) == method) return true;
        if (comma == std::string_view::npos) break;
        allowed.remove_prefix(comma + 1);
        while (!allowed.empty() && allowed.front() == ' ') allowed.remove_prefix(1);
    }
    return false;
}

// A body for the errors cpp-httplib answers by itself, before any handler of ours runs.
std::string reason_of_refusal(int status) {
    switch (status) {
        case 400:
            return "Bad request.\n";
        case 413:
            return "Request body too large.\n";
        case 414:
            return "Request URI too long.\n";
        case 431:
            return "Request header fields too large.\n";
        case 503:
            return "Service unavailable.\n";
        default:
            return "Request failed with status " + std::to_string(status) + ".\n";
    }
}

void plain(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(message + "\n", "text/plain; charset=utf-8");
}

}  // namespace

// cpp-httplib keeps writing a streaming response only while its listening socket is set
// (svr_sock_ != INVALID_SOCKET). These routes never listen, the event server does, so a
// descriptor of our own stands in for it until the drain.
GatewayServer::Routes::Routes() {
    placeholder_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    svr_sock_ = placeholder_fd_;
}

GatewayServer::Routes::~Routes() {
    end_streams();
    if (placeholder_fd_ >= 0) ::close(placeholder_fd_);
}

void GatewayServer::Routes::end_streams() {
    svr_sock_ = INVALID_SOCKET;
}

void limit_malloc_arenas() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    ::mallopt(M_ARENA_MAX, static_cast<int>(2 * cores));
}

GatewayServer::GatewayServer(const Config& config, FunctionProvider& provider,
                             std::optional<BasicAuth> auth)
    : config_(config),
      provider_(provider),
      auth_(std::move(auth)),
      proxy_(ProxyOptions{config.upstream_timeout, std::chrono::seconds(2),
                          config.max_response_bytes}),
      balancer_(config.balancing),
      invoke_(provider, proxy_, balancer_, metrics_, config.function_namespace),
      admin_(provider, metrics_, balancer_, config.function_namespace, config.write_timeout,
             draining_),
      front_(
          [&config] {
              EventServerOptions options;
              options.read_timeout = config.read_timeout;
              options.write_timeout = config.write_timeout;
              options.max_body_bytes = config.max_request_bytes;
              options.handoff_threads = static_cast<std::size_t>(config.threads);
              return options;
          }(),
          *this) {
    server_.set_payload_max_length(config_.max_request_bytes);
    register_routes();
    const ProxyOptions proxy_options{config.upstream_timeout, std::chrono::seconds(2),
                                     config.max_response_bytes};
    for (std::size_t i = 0; i < front_.loop_count(); ++i)
        async_proxies_.push_back(std::make_unique<AsyncProxy>(front_.loop(i), proxy_options));
}

GatewayServer::~GatewayServer() {
    // Stops the loops before the proxies that live on them go.
    front_.stop();
}

bool GatewayServer::claims(const RequestHead& head) {
    const std::string_view target = head.target;
    if (target.rfind("/function/", 0) == 0) return true;
    return head.method == "POST" && target.substr(0, target.find('?')) == "/";
}

void GatewayServer::serve(LoopExchange& exchange) {
    const auto started = std::chrono::steady_clock::now();
    const RequestHead& head = *exchange.head;
    const std::string_view path = head.target.substr(0, head.target.find('?'));
    auto answer = [this, &exchange, started, method = head.method,
                   label = route_label(path)](LoopResponse&& response) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        metrics_.http_request(method, label, response.status, seconds);
        exchange.respond(std::move(response));
    };
    if (draining_.load(std::memory_order_relaxed)) {
        LoopResponse response;
        response.status = 503;
        response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
        response.body = "The gateway is shutting down\n";
        response.close = true;
        answer(std::move(response));
        return;
    }
    inflight_.fetch_add(1, std::memory_order_relaxed);
    CallRequest request;
    request.method = head.method;
    request.target = head.target;
    request.remote_addr = exchange.remote_addr;
    request.headers = head.headers;
    request.body = exchange.body;
    try {
        invoke_.start(request, *async_proxies_[exchange.loop_index],
                      [this, answer](CallResponse&& call) {
                          LoopResponse response;
                          response.status = call.status;
                          response.headers = std::move(call.headers);
                          response.body = std::move(call.body);
                          inflight_.fetch_sub(1, std::memory_order_relaxed);
                          answer(std::move(response));
                      });
    } catch (const std::exception& e) {
        // Only before the call was handed to curl (a provider failure, say): answered here.
        inflight_.fetch_sub(1, std::memory_order_relaxed);
        log_line(std::string("Internal error: ") + e.what());
        LoopResponse response;
        response.status = dynamic_cast<const ProviderUnavailable*>(&e) ? 502 : 500;
        response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
        response.body =
            std::string(response.status == 502 ? "Provider error: " : "Internal error: ") +
            e.what() + "\n";
        answer(std::move(response));
    }
}

bool GatewayServer::serve_handed_off(httplib::Stream& stream, bool& connection_closed) {
    return server_.serve(stream, connection_closed);
}

template <typename Fn>
void GatewayServer::guarded(httplib::Response& res, Fn&& fn) {
    struct Inflight {
        std::atomic<int>& count;
        explicit Inflight(std::atomic<int>& c) : count(c) { ++count; }
        ~Inflight() { --count; }
    } inflight(inflight_);
    try {
        fn();
    } catch (const BadRequest& e) {
        plain(res, 400, e.what());
    } catch (const Unsupported& e) {
        plain(res, 400, e.what());
    } catch (const NotFound& e) {
        plain(res, 404, e.what());
    } catch (const AlreadyExists& e) {
        plain(res, 409, e.what());
    } catch (const ProviderUnavailable& e) {
        log_line(std::string("Provider error: ") + e.what());
        // The backing system (dockerd, the disk) failed, not the gateway: 502, as OpenFaaS.
        plain(res, 502, std::string("Provider error: ") + e.what());
    } catch (const std::exception& e) {
        log_line(std::string("Internal error: ") + e.what());
        plain(res, 500, std::string("Internal error: ") + e.what());
    }
}

template <typename Fn>
void GatewayServer::route_with_body(const std::string& method, const std::string& pattern, Fn fn) {
    const std::uint64_t limit = config_.max_request_bytes;
    // Bodies are read here, counted as they arrive: a chunked body has no length up front and
    // cpp-httplib would otherwise buffer it without bound.
    httplib::Server::HandlerWithContentReader with_reader =
        [this, fn, limit](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
            std::string body;
            bool too_large = false;
            bool ok = reader([&](const char* data, std::size_t length) {
                if (body.size() + length > limit) {
                    too_large = true;
                    return false;
                }
                body.append(data, length);
                return true;
            });
            if (!ok) {
                if (too_large || res.status == 413)
                    respond_and_close(res, 413, "Request body too large\n");
                else
                    respond_and_close(res, 400, "Cannot read the request body\n");
                return;
            }
            guarded(res, [&] { fn(req, res, body); });
        };
    httplib::Server::Handler without_body = [this, fn](const httplib::Request& req,
                                                       httplib::Response& res) {
        guarded(res, [&] { fn(req, res, req.body); });
    };
    if (method == "POST") {
        server_.Post(pattern, with_reader);
        server_.Post(pattern, without_body);
    } else if (method == "PUT") {
        server_.Put(pattern, with_reader);
        server_.Put(pattern, without_body);
    } else if (method == "PATCH") {
        server_.Patch(pattern, with_reader);
        server_.Patch(pattern, without_body);
    } else if (method == "DELETE") {
        server_.Delete(pattern, with_reader);
        server_.Delete(pattern, without_body);
    }
}

void GatewayServer::register_routes() {
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        request_start = std::chrono::steady_clock::now();
        // A function's answer is relayed as it stands: cpp-httplib must not cut byte ranges out
        // of it (the Range header still reaches the function, which may honour it itself).
        const_cast<httplib::Request&>(req).ranges.clear();
        if (draining_.load(std::memory_order_relaxed)) {
            respond_and_close(res, 503, "The gateway is shutting down\n");
            return httplib::Server::HandlerResponse::Handled;
        }
        // Framing that proxies disagree about is refused before any body is read (RFC 9112 6.1).
        if (req.has_header("Transfer-Encoding") &&
            (req.has_header("Content-Length") || req.method == "GET" || req.method == "HEAD" ||
             req.method == "OPTIONS")) {
            respond_and_close(res, 400, "Ambiguous or unexpected request framing\n");
            return httplib::Server::HandlerResponse::Handled;
        }
        settle_missing_length(req);
        if (auth_ && (req.path == "/system" || req.path.rfind("/system/", 0) == 0) &&
            !auth_->allows(req.get_header_value("Authorization"))) {
            // Nothing of the request is read or acted on: no side effect of any kind.
            res.set_header("WWW-Authenticate", "Basic realm=\"Restricted\"");
            respond_and_close(res, 401, "invalid credentials\n");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
        metrics_.http_request(req.method, route_label(req.path), res.status, seconds);
    });

    // cpp-httplib's own answers (no route, a request line it refused) come without a body.
    // Give them one, and answer a method a served path does not take with 405 and Allow, as
    // OpenFaaS's router does. The connection is closed: the request body may be unread.
    server_.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty() || res.is_chunked_content_provider_)
                return httplib::Server::HandlerResponse::Unhandled;  // one of our handlers'
            // A refused request line leaves the path unset.
            const std::string path =
                !req.path.empty() ? req.path : req.target.substr(0, req.target.find('?'));
            const std::string_view allowed = allowed_methods(path);
            if (res.status == 404 || (res.status == 400 && !allows(allowed, req.method))) {
                if (allowed.empty() || !is_token(req.method)) {
                    if (res.status == 404)
                        respond_and_close(res, 404, "404 page not found\n");
                    else
                        respond_and_close(res, 400, reason_of_refusal(400));
                } else {
                    res.set_header("Allow", std::string(allowed));
                    respond_and_close(res, 405,
                                      "Method " + req.method + " is not allowed on " + path +
                                          ": use " + std::string(allowed) + ".\n");
                }
            } else {
                respond_and_close(res, res.status, reason_of_refusal(res.status));
            }
            return httplib::Server::HandlerResponse::Handled;
        }));

    // The hot path first: cpp-httplib tries patterns in registration order.
    const std::string function_pattern = "/function/.*";
    auto invoke = [this](const httplib::Request& req, httplib::Response& res,
                         const std::string& body) { invoke_.handle_function_path(req, res, body); };
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"})
        route_with_body(method, function_pattern, invoke);
    server_.Get(function_pattern,
                [this, invoke](const httplib::Request& req, httplib::Response& res) {
                    guarded(res, [&] { invoke(req, res, req.body); });
                });
    server_.Options(function_pattern,
                    [this, invoke](const httplib::Request& req, httplib::Response& res) {
                        guarded(res, [&] { invoke(req, res, req.body); });
                    });
    route_with_body("POST", "/",
                    [this](const httplib::Request& req, httplib::Response& res,
                           const std::string& body) { invoke_.handle_root(req, res, body); });

    server_.Get("/healthz",
                [](const httplib::Request&, httplib::Response& res) { plain(res, 200, "OK"); });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] { admin_.metrics(res); });
    });

    server_.Get("/system/functions", [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { admin_.list_functions(req, res); });
    });
    route_with_body("POST", "/system/functions",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.deploy(body, res); });
    route_with_body("PUT", "/system/functions",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.update(body, res); });
    route_with_body("DELETE", "/system/functions",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.remove(body, res); });
    server_.Get("/system/function/[^/]+",
                [this](const httplib::Request& req, httplib::Response& res) {
                    guarded(res, [&] { admin_.get_function(req, res); });
                });
    route_with_body("POST", "/system/scale-function/[^/]+",
                    [this](const httplib::Request& req, httplib::Response& res,
                           const std::string& body) { admin_.scale(req, body, res); });
    server_.Get("/system/info", [this](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] { admin_.info(res); });
    });
    server_.Get("/system/namespaces", [this](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] { admin_.namespaces(res); });
    });
    server_.Get("/system/logs", [this](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { admin_.logs(req, res); });
    });
    route_with_body("POST", "/system/alert",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.alert(body, res); });
    server_.Get("/system/secrets", [this](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] { admin_.list_secrets(res); });
    });
    route_with_body("POST", "/system/secrets",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.create_secret(body, res); });
    route_with_body("PUT", "/system/secrets",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.update_secret(body, res); });
    route_with_body("DELETE", "/system/secrets",
                    [this](const httplib::Request&, httplib::Response& res,
                           const std::string& body) { admin_.delete_secret(body, res); });
}

int GatewayServer::bind(const std::string& host, int port) {
    return front_.bind(host, port, 1024);
}

void GatewayServer::listen() {
    front_.run();
}

void GatewayServer::drain_and_stop(std::chrono::nanoseconds grace) {
    draining_.store(true);
    auto deadline = std::chrono::steady_clock::now() + grace;
    // Bounded by `grace`: requests still running then are cut off by the stop.
    while (inflight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.end_streams();
    front_.stop();
}

}  // namespace faas::gateway
