// The admin API.
#include "admin_handlers.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "alert.h"
#include "log.h"
#include "provider/log_buffer.h"
#include "routes.h"
#include "settings.h"

#ifndef FAAS_VERSION
#define FAAS_VERSION "dev"
#endif
#ifndef FAAS_GIT_SHA
#define FAAS_GIT_SHA "unknown"
#endif

namespace faas::gateway {
namespace {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

void send_text(httplib::Response& res, int status, const std::string& text) {
    res.status = status;
    res.set_content(text + "\n", "text/plain; charset=utf-8");
}

std::string segment_after(const std::string& path, std::string_view prefix) {
    return path.size() > prefix.size() ? path.substr(prefix.size()) : std::string();
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
                             std::string served_namespace, std::chrono::nanoseconds max_follow,
                             const std::atomic<bool>& draining)
    : provider_(provider),
      metrics_(metrics),
      balancer_(balancer),
      served_namespace_(std::move(served_namespace)),
      max_follow_(max_follow),
      draining_(draining) {}

std::string AdminHandlers::function_in_path(const std::string& segment) const {
    auto parsed = parse_function_name(segment, served_namespace_);
    if (!parsed.ref) {
        if (parsed.error == RouteError::kOtherNamespace)
            throw NotFound("namespace not served by this gateway");
        throw BadRequest("invalid function name");
    }
    return parsed.ref->name;
}

void AdminHandlers::list_functions(const httplib::Request& req, httplib::Response& res) {
    auto ns = req.get_param_value("namespace");
    if (!ns.empty() && !is_valid_name(ns)) throw BadRequest("invalid namespace");
    json list = json::array();
    if (ns.empty() || ns == served_namespace_)
        for (const auto& record : provider_.list())
            list.push_back(status_json(record, served_namespace_,
                                       metrics_.invocation_count(record.deployment.service)));
    send_json(res, 200, list);
}

void AdminHandlers::get_function(const httplib::Request& req, httplib::Response& res) {
    auto name = function_in_path(segment_after(req.path, "/system/function/"));
    auto record = provider_.get(name);
    if (!record) throw NotFound("function " + name + " not found");
    send_json(res, 200, status_json(*record, served_namespace_, metrics_.invocation_count(name)));
}

void AdminHandlers::deploy(const std::string& body, httplib::Response& res) {
    auto deployment = parse_deployment(body, served_namespace_);
    provider_.deploy(deployment);
    send_text(res, 202, "Deployment accepted: " + deployment.service);
}

void AdminHandlers::update(const std::string& body, httplib::Response& res) {
    auto deployment = parse_deployment(body, served_namespace_);
    provider_.update(deployment);
    send_text(res, 202, "Update accepted: " + deployment.service);
}

void AdminHandlers::remove(const std::string& body, httplib::Response& res) {
    auto name = parse_delete_request(body, served_namespace_);
    provider_.remove(name);
    metrics_.forget(name);
    balancer_.forget(name);
    send_text(res, 202, "Removed: " + name);
}

void AdminHandlers::scale(const httplib::Request& req, const std::string& body,
                          httplib::Response& res) {
    auto name = function_in_path(segment_after(req.path, "/system/scale-function/"));
    auto request = parse_scale_request(body);
    if (!request.service_name.empty()) {
        auto named = parse_function_name(request.service_name, served_namespace_);
        if (!named.ref || named.ref->name != name)
            throw BadRequest("'serviceName' does not match the function in the path");
    }
    provider_.scale(name, request.replicas);
    send_text(res, 202, "Scaling " + name + " to " + std::to_string(request.replicas));
}

void AdminHandlers::info(httplib::Response& res) {
    auto provider = provider_.info();
    utsname machine{};
    ::uname(&machine);
    send_json(res, 200,
              json{{"provider",
                    {{"provider", provider.provider},
                     {"orchestration", provider.orchestration},
                     {"version", {{"sha", FAAS_GIT_SHA}, {"release", FAAS_VERSION}}}}},
                   {"version",
                    {{"commit_message", ""}, {"sha", FAAS_GIT_SHA}, {"release", FAAS_VERSION}}},
                   {"arch", machine.machine}});
}

void AdminHandlers::namespaces(httplib::Response& res) {
    send_json(res, 200, json::array({served_namespace_}));
}

void AdminHandlers::logs(const httplib::Request& req, httplib::Response& res) {
    LogQuery query;
    query.name = req.get_param_value("name");
    if (query.name.empty()) throw BadRequest("'name' is required");
    query.name = function_in_path(query.name);
    auto ns = req.get_param_value("namespace");
    if (!ns.empty() && ns != served_namespace_)
        throw NotFound("namespace not served by this gateway");
    if (req.has_param("instance")) query.instance = req.get_param_value("instance");
    if (auto tail = req.get_param_value("tail"); !tail.empty()) {
        auto value = parse_int(tail);
        if (!value || *value < -1 || *value > 1'000'000)
            throw BadRequest("'tail' must be a number");
        query.tail = static_cast<int>(*value);
    }
    if (auto since = req.get_param_value("since"); !since.empty()) {
        query.since = parse_rfc3339(since);
        if (!query.since) throw BadRequest("'since' must be an RFC 3339 time");
    }
    if (auto follow = req.get_param_value("follow"); !follow.empty()) {
        auto value = parse_bool(follow);
        if (!value) throw BadRequest("'follow' must be true or false");
        query.follow = *value;
    }
    std::shared_ptr<LogStream> stream = provider_.logs(query);
    res.status = 200;
    if (!query.follow) {
        std::string out;
        // Bounded: the buffer holds a bounded number of lines and the stream ends after them.
        for (int batch = 0; batch < 100'000; ++batch) {
            auto entries = stream->next(std::chrono::milliseconds(0));
            if (!entries) break;
            for (const auto& entry : *entries) out += log_line_json(entry, served_namespace_);
        }
        res.set_content(out, "application/x-ndjson");
        return;
    }
    // Following: stream batches until the client goes, the gateway drains, or max_follow.
    auto deadline = std::chrono::steady_clock::now() + max_follow_;
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [stream, deadline, ns = served_namespace_, this](std::size_t, httplib::DataSink& sink) {
            if (draining_.load() || std::chrono::steady_clock::now() >= deadline) {
                sink.done();
                return true;
            }
            auto entries = stream->next(std::chrono::milliseconds(250));
            if (!entries) {
                sink.done();
                return true;
            }
            std::string out;
            for (const auto& entry : *entries) out += log_line_json(entry, ns);
            if (!out.empty() && !sink.write(out.data(), out.size())) return false;
            return sink.is_writable();
        });
}

void AdminHandlers::alert(const std::string& body, httplib::Response& res) {
    auto alerts = parse_alerts(body);
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
        send_text(res, 500, text);
        return;
    }
    send_text(res, 200, "Alerts handled: " + std::to_string(alerts.size()));
}

void AdminHandlers::list_secrets(httplib::Response& res) {
    json list = json::array();
    for (const auto& name : provider_.list_secrets())
        list.push_back({{"name", name}, {"namespace", served_namespace_}});
    send_json(res, 200, list);
}

void AdminHandlers::create_secret(const std::string& body, httplib::Response& res) {
    auto request = parse_secret_request(body, served_namespace_, true);
    provider_.create_secret(request.name, *request.value);
    send_text(res, 201, "Created secret: " + request.name);
}

void AdminHandlers::update_secret(const std::string& body, httplib::Response& res) {
    auto request = parse_secret_request(body, served_namespace_, true);
    provider_.update_secret(request.name, *request.value);
    send_text(res, 200, "Updated secret: " + request.name);
}

void AdminHandlers::delete_secret(const std::string& body, httplib::Response& res) {
    auto request = parse_secret_request(body, served_namespace_, false);
    provider_.remove_secret(request.name);
    res.status = 204;
}

void AdminHandlers::metrics(httplib::Response& res) {
    std::map<std::string, int> replicas;
    try {
        for (const auto& record : provider_.list())
            replicas[record.deployment.service] = record.replicas;
        metrics_.set_service_counts(replicas);
    } catch (const std::exception& e) {
        // The rest of the metrics are still worth serving while the provider is down.
        log_line(std::string("Cannot refresh gateway_service_count: ") + e.what());
    }
    res.status = 200;
    res.set_content(metrics_.serialize(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace faas::gateway
