// Gateway metrics on prometheus-cpp core, served by our own /metrics route.
#include "metrics.h"

#include <prometheus/text_serializer.h>

namespace faas::gateway {
namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
    // Prometheus's default buckets, as the OpenFaaS gateway uses.
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    return buckets;
}

std::string_view known_method(std::string_view method) {
    for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
        if (method == m) return m;
    return "other";
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      invocation_total_(prometheus::BuildCounter()
                            .Name("gateway_function_invocation_total")
                            .Help("Function invocations by function and status code")
                            .Register(*registry_)),
      functions_seconds_(prometheus::BuildHistogram()
                             .Name("gateway_functions_seconds")
                             .Help("Function call duration in seconds")
                             .Register(*registry_)),
      invocation_started_(prometheus::BuildCounter()
                              .Name("gateway_function_invocation_started")
                              .Help("Function invocations started")
                              .Register(*registry_)),
      service_count_(prometheus::BuildGauge()
                         .Name("gateway_service_count")
                         .Help("Desired replicas per function")
                         .Register(*registry_)),
      desired_replicas_(prometheus::BuildGauge()
                            .Name("gateway_autoscaler_desired_replicas")
                            .Help("Replicas the built-in autoscaler wants per function it manages")
                            .Register(*registry_)),
      http_total_(prometheus::BuildCounter()
                      .Name("http_requests_total")
                      .Help("Requests the gateway answered, by method, route and status")
                      .Register(*registry_)),
      http_seconds_(prometheus::BuildHistogram()
                        .Name("http_request_duration_seconds")
                        .Help("Time to answer a request, by method, route and status")
                        .Register(*registry_)) {}

void Metrics::invocation_started(const std::string& function) {
    {
        std::shared_lock lock(functions_mutex_);
        auto it = functions_.find(function);
        if (it != functions_.end() && it->second.started) {
            it->second.started->Increment();
            return;
        }
    }
    std::unique_lock lock(functions_mutex_);
    auto& series = functions_[function];
    if (!series.started) series.started = &invocation_started_.Add({{"function_name", function}});
    series.started->Increment();
}

void Metrics::invocation_finished(const std::string& function, int code, double seconds) {
    {
        std::shared_lock lock(functions_mutex_);
        auto it = functions_.find(function);
        if (it != functions_.end()) {
            auto code_it = it->second.codes.find(code);
            if (code_it != it->second.codes.end()) {
                code_it->second.total->Increment();
                code_it->second.seconds->Observe(seconds);
                return;
            }
        }
    }
    std::unique_lock lock(functions_mutex_);
    auto& series = functions_[function];
    auto code_it = series.codes.find(code);
    if (code_it == series.codes.end()) {
        prometheus::Labels labels{{"function_name", function}, {"code", std::to_string(code)}};
        code_it = series.codes
                      .emplace(code, CodeSeries{&invocation_total_.Add(labels),
                                                &functions_seconds_.Add(labels, latency_buckets())})
                      .first;
    }
    code_it->second.total->Increment();
    code_it->second.seconds->Observe(seconds);
}

double Metrics::invocation_count(const std::string& function) const {
    std::shared_lock lock(functions_mutex_);
    auto it = functions_.find(function);
    if (it == functions_.end()) return 0;
    double total = 0;
    for (const auto& [code, series] : it->second.codes) total += series.total->Value();
    return total;
}

std::map<std::string, Metrics::Activity> Metrics::activity() const {
    std::map<std::string, Activity> activity;
    std::shared_lock lock(functions_mutex_);
    for (const auto& [name, series] : functions_) {
        Activity& counts = activity[name];
        if (series.started) counts.started = static_cast<std::uint64_t>(series.started->Value());
        for (const auto& [code, by_code] : series.codes)
            counts.finished += static_cast<std::uint64_t>(by_code.total->Value());
    }
    return activity;
}

void Metrics::sync_gauges(prometheus::Family<prometheus::Gauge>& family, GaugeMap& gauges,
                          const std::map<std::string, int>& values) {
    for (auto it = gauges.begin(); it != gauges.end();) {
        if (!values.count(it->first)) {
            family.Remove(it->second);
            it = gauges.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [name, count] : values) {
        auto& gauge = gauges[name];
        if (!gauge) gauge = &family.Add({{"function_name", name}});
        gauge->Set(count);
    }
}

void Metrics::set_service_counts(const std::map<std::string, int>& replicas) {
    std::lock_guard lock(gauges_mutex_);
    sync_gauges(service_count_, gauges_, replicas);
}

void Metrics::set_desired_replicas(const std::map<std::string, int>& replicas) {
    std::lock_guard lock(gauges_mutex_);
    sync_gauges(desired_replicas_, desired_gauges_, replicas);
}

void Metrics::forget(const std::string& function) {
    {
        std::unique_lock lock(functions_mutex_);
        auto it = functions_.find(function);
        if (it != functions_.end()) {
            if (it->second.started) invocation_started_.Remove(it->second.started);
            for (auto& [code, series] : it->second.codes) {
                invocation_total_.Remove(series.total);
                functions_seconds_.Remove(series.seconds);
            }
            functions_.erase(it);
        }
    }
    std::lock_guard lock(gauges_mutex_);
    if (auto it = gauges_.find(function); it != gauges_.end()) {
        service_count_.Remove(it->second);
        gauges_.erase(it);
    }
    if (auto it = desired_gauges_.find(function); it != desired_gauges_.end()) {
        desired_replicas_.Remove(it->second);
        desired_gauges_.erase(it);
    }
}

void Metrics::http_request(std::string_view method, std::string_view route, int status,
                           double seconds) {
    // Stored keys must view static strings: known_method returns literals, and `route` is a
    // pattern of the route table (routes.h) or its "other", both literals.
    const HttpKey key{known_method(method), route, status};
    {
        std::shared_lock lock(http_mutex_);
        auto it = http_.find(key);
        if (it != http_.end()) {
            it->second.total->Increment();
            it->second.seconds->Observe(seconds);
            return;
        }
    }
    std::unique_lock lock(http_mutex_);
    auto it = http_.find(key);
    if (it == http_.end()) {
        prometheus::Labels labels{{"method", std::string(key.method)},
                                  {"path", std::string(key.route)},
                                  {"status", std::to_string(status)}};
        it = http_
                 .emplace(key, HttpSeries{&http_total_.Add(labels),
                                          &http_seconds_.Add(labels, latency_buckets())})
                 .first;
    }
    it->second.total->Increment();
    it->second.seconds->Observe(seconds);
}

void Metrics::include(std::shared_ptr<prometheus::Collectable> collectable) {
    included_.push_back(std::move(collectable));
}

std::string Metrics::serialize() const {
    auto families = registry_->Collect();
    for (const auto& collectable : included_)
        for (auto& family : collectable->Collect()) families.push_back(std::move(family));
    prometheus::TextSerializer serializer;
    return serializer.Serialize(families);
}

}  // namespace faas::gateway
