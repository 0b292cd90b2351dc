// The admin API.
#include "admin_handlers.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "alert.h"
#include "autoscale/scale_policy.h"
#include "log.h"
#include "names.h"
#include "provider/deployment_rules.h"
#include "scaling.h"
#include "settings.h"
#include "time_format.h"

#ifndef FAAS_VERSION
#define FAAS_VERSION "dev"
#endif
#ifndef FAAS_GIT_SHA
#define FAAS_GIT_SHA "unknown"
#endif

namespace faas::gateway {
namespace {

using nlohmann::json;

Response send_json(int status, const json& body) {
    return Response::json(status, body.dump());
}

std::string_view segment_after(std::string_view path, std::string_view prefix) {
    return path.size() > prefix.size() ? path.substr(prefix.size()) : std::string_view();
}

std::string body_of(const Request& request) {
    return std::string(request.body);
}

std::string log_line_json(const LogEntry& entry, const std::string& served_namespace) {
    return json{{"name", entry.name},
                {"namespace", served_namespace},
                {"instance", entry.instance},
                {"timestamp", entry.timestamp},
                {"text", entry.text}}
               .dump() +
           "\n";
}

}  // namespace

AdminHandlers::AdminHandlers(FunctionProvider& provider, Metrics& metrics, LoadBalancer& balancer,
                             std::string served_namespace, int max_replicas,
                             std::chrono::nanoseconds max_follow, const std::atomic<bool>& draining,
                             BuildManager* builds, bool builtin_autoscaler, AsyncCalls* async_calls)
    : provider_(provider),
      metrics_(metrics),
      balancer_(balancer),
      served_namespace_(std::move(served_namespace)),
      max_replicas_(max_replicas),
      max_follow_(max_follow),
      draining_(draining),
      builds_(builds),
      builtin_autoscaler_(builtin_autoscaler),
      async_calls_(async_calls) {}

std::string AdminHandlers::function_in_path(std::string_view segment) const {
    auto parsed = parse_function_name(segment, served_namespace_);
    if (!parsed.ref) {
        if (parsed.error == RouteError::kOtherNamespace)
            throw NotFound("namespace not served by this gateway");
        // As a call to it: no function can have this name.
        throw NotFound("function " + std::string(segment) + " not found");
    }
    return parsed.ref->name;
}

void AdminHandlers::check_namespace_param(const Request& request) const {
    const auto ns = request.query("namespace");
    if (ns && !ns->empty() && *ns != served_namespace_)
        throw NotFound("namespace '" + *ns + "' is not served here (only '" + served_namespace_ +
                       "')");
}

Response AdminHandlers::healthz(const Request&) {
    return Response::text(200, "OK");
}

Response AdminHandlers::list_functions(const Request& request) {
    check_namespace_param(request);
    json list = json::array();
    for (const auto& record : provider_.list())
        list.push_back(status_json(record, served_namespace_,
                                   metrics_.invocation_count(record.deployment.service)));
    return send_json(200, list);
}

Response AdminHandlers::get_function(const Request& request) {
    check_namespace_param(request);
    auto name = function_in_path(segment_after(request.path(), "/system/function/"));
    auto record = provider_.get(name);
    if (!record) throw NotFound("function " + name + " not found");
    return send_json(200, status_json(*record, served_namespace_, metrics_.invocation_count(name)));
}

Response AdminHandlers::deploy(const Request& request) {
    check_namespace_param(request);
    auto deployment = parse_deployment(body_of(request), served_namespace_);
    check_deployment(deployment, provider_, max_replicas_);
    provider_.deploy(deployment);
    return Response::text(202, "Deployment accepted: " + deployment.service);
}

Response AdminHandlers::update(const Request& request) {
    check_namespace_param(request);
    auto deployment = parse_deployment(body_of(request), served_namespace_);
    check_deployment(deployment, provider_, max_replicas_);
    provider_.update(deployment);
    return Response::text(202, "Update accepted: " + deployment.service);
}

Response AdminHandlers::remove(const Request& request) {
    check_namespace_param(request);
    auto name = parse_delete_request(body_of(request), served_namespace_);
    provider_.remove(name);
    metrics_.forget(name);
    balancer_.forget(name);
    return Response::text(202, "Removed: " + name);
}

Response AdminHandlers::scale(const Request& request) {
    check_namespace_param(request);
    auto name = function_in_path(segment_after(request.path(), "/system/scale-function/"));
    auto scale_request = parse_scale_request(body_of(request));
    if (!scale_request.service_name.empty()) {
        auto named = parse_function_name(scale_request.service_name, served_namespace_);
        if (!named.ref || named.ref->name != name)
            throw BadRequest("'serviceName' does not match the function in the path");
    }
    check_replicas(scale_request.replicas, max_replicas_);
    provider_.scale(name, scale_request.replicas);
    return Response::text(202, "Scaling " + name + " to " + std::to_string(scale_request.replicas));
}

Response AdminHandlers::info(const Request&) {
    auto provider = provider_.info();
    utsname machine{};
    ::uname(&machine);
    return send_json(
        200, json{{"provider",
                   {{"provider", provider.provider},
                    {"orchestration", provider.orchestration},
                    {"version", {{"sha", FAAS_GIT_SHA}, {"release", FAAS_VERSION}}}}},
                  {"version",
                   {{"commit_message", ""}, {"sha", FAAS_GIT_SHA}, {"release", FAAS_VERSION}}},
                  {"arch", machine.machine}});
}

Response AdminHandlers::namespaces(const Request&) {
    return send_json(200, json::array({served_namespace_}));
}

Response AdminHandlers::logs(const Request& request) {
    LogQuery query;
    query.name = request.query("name").value_or("");
    if (query.name.empty()) throw BadRequest("'name' is required");
    query.name = function_in_path(query.name);
    check_namespace_param(request);
    query.instance = request.query("instance");
    if (auto tail = request.query("tail").value_or(""); !tail.empty()) {
        auto value = parse_int(tail);
        if (!value || *value < -1 || *value > 1'000'000)
            throw BadRequest("'tail' must be a number");
        query.tail = static_cast<int>(*value);
    }
    if (auto since = request.query("since").value_or(""); !since.empty()) {
        query.since = parse_rfc3339(since);
        if (!query.since) throw BadRequest("'since' must be an RFC 3339 time");
    }
    if (auto follow = request.query("follow").value_or(""); !follow.empty()) {
        auto value = parse_bool(follow);
        if (!value) throw BadRequest("'follow' must be true or false");
        query.follow = *value;
    }
    std::shared_ptr<LogStream> stream = provider_.logs(query);
    Response response;
    response.headers.emplace_back("Content-Type", "application/x-ndjson");
    if (!query.follow) {
        // Bounded: the buffer holds a bounded number of lines and the stream ends after them.
        for (int batch = 0; batch < 100'000; ++batch) {
            auto entries = stream->next(std::chrono::milliseconds(0));
            if (!entries) break;
            for (const auto& entry : *entries)
                response.body += log_line_json(entry, served_namespace_);
        }
        return response;
    }
    // Following: batches go out as they come until the client goes, the gateway drains, or
    // max_follow has passed.
    const auto deadline = std::chrono::steady_clock::now() + max_follow_;
    response.stream = [stream, deadline, ns = served_namespace_, this](BodyWriter& writer) {
        while (!draining_.load() && std::chrono::steady_clock::now() < deadline) {
            auto entries = stream->next(std::chrono::milliseconds(250));
            if (!entries) return;
            std::string out;
            for (const auto& entry : *entries) out += log_line_json(entry, ns);
            if (!out.empty() && !writer.write(out)) return;
        }
    };
    return response;
}

Response AdminHandlers::alert(const Request& request) {
    auto alerts = parse_alerts(body_of(request));
    std::vector<std::string> errors;
    for (const auto& item : alerts) {
        auto parsed = parse_function_name(item.function_name, served_namespace_);
        if (!parsed.ref) {
            errors.push_back("invalid function name in alert: " + item.function_name);
            continue;
        }
        const auto& name = parsed.ref->name;
        try {
            auto record = provider_.get(name);
            if (!record) throw NotFound("function " + name + " not found");
            if (builtin_autoscaler_ && autoscaled(scale_policy(record->deployment.labels))) {
                // The built-in autoscaler owns it: two scalers on one function would fight.
                log_line("Alert for " + name + " ignored: the built-in autoscaler scales it (" +
                         kScaleTargetLabel + " is set)");
                continue;
            }
            auto bounds = scaling_bounds(record->deployment.labels);
            int target = scaled_replicas(record->replicas, item.firing, bounds);
            if (target != record->replicas) {
                provider_.scale(name, target);
                log_line("Alert " + std::string(item.firing ? "firing" : "resolved") + ": scaled " +
                         name + " from " + std::to_string(record->replicas) + " to " +
                         std::to_string(target));
            }
        } catch (const std::exception& e) {
            errors.push_back(name + ": " + e.what());
        }
    }
    if (!errors.empty()) {
        std::string text = "Errors handling alerts:";
        for (const auto& error : errors) text += "\n" + error;
        return Response::text(500, text);
    }
    return Response::text(200, "Alerts handled: " + std::to_string(alerts.size()));
}

Response AdminHandlers::list_secrets(const Request& request) {
    check_namespace_param(request);
    json list = json::array();
    for (const auto& name : provider_.list_secrets())
        list.push_back({{"name", name}, {"namespace", served_namespace_}});
    return send_json(200, list);
}

Response AdminHandlers::create_secret(const Request& request) {
    check_namespace_param(request);
    auto secret = parse_secret_request(body_of(request), served_namespace_, true);
    provider_.create_secret(secret.name, *secret.value);
    return Response::text(201, "Created secret: " + secret.name);
}

Response AdminHandlers::update_secret(const Request& request) {
    check_namespace_param(request);
    auto secret = parse_secret_request(body_of(request), served_namespace_, true);
    provider_.update_secret(secret.name, *secret.value);
    return Response::text(200, "Updated secret: " + secret.name);
}

Response AdminHandlers::delete_secret(const Request& request) {
    check_namespace_param(request);
    auto secret = parse_secret_request(body_of(request), served_namespace_, false);
    provider_.remove_secret(secret.name);
    // 200, not 204: OpenFaaS's CLI takes only 200 and 202 as success here.
    return Response::text(200, "Removed secret: " + secret.name);
}

Response AdminHandlers::metrics(const Request&) {
    std::map<std::string, int> replicas;
    try {
        for (const auto& record : provider_.list())
            replicas[record.deployment.service] = record.replicas;
        metrics_.set_service_counts(replicas);
    } catch (const std::exception& e) {
        // The rest of the metrics are still worth serving while the provider is down.
        log_line(std::string("Cannot refresh gateway_service_count: ") + e.what());
    }
    Response response;
    response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    response.body = metrics_.serialize();
    return response;
}

}  // namespace faas::gateway
