// The gateway's Prometheus metrics (OpenFaaS's names), with series only for functions the
// provider knows: a flood of random names cannot add a series.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace faas::gateway {

class Metrics {
  public:
    Metrics();

    /// gateway_function_invocation_started{function_name}. Call only for known functions.
    void invocation_started(const std::string& function);
    /// gateway_function_invocation_total and gateway_functions_seconds {function_name,code}.
    void invocation_finished(const std::string& function, int code, double seconds);
    /// Sum of gateway_function_invocation_total over codes: FunctionStatus.invocationCount.
    double invocation_count(const std::string& function) const;
    /// gateway_service_count{function_name} for exactly these functions (others removed).
    void set_service_counts(const std::map<std::string, int>& replicas);
    /// gateway_autoscaler_desired_replicas{function_name}: what the built-in autoscaler wants,
    /// for exactly the functions it manages (others removed).
    void set_desired_replicas(const std::map<std::string, int>& replicas);

    /// Calls started and finished so far for one function: the autoscaler's samples (calls in
    /// flight, including held ones, are the difference).
    struct Activity {
        std::uint64_t started = 0;
        std::uint64_t finished = 0;
    };
    std::map<std::string, Activity> activity() const;
    /// Drops every series of a removed function.
    void forget(const std::string& function);

    /// The gateway's own HTTP metrics: http_requests_total and http_request_duration_seconds
    /// {method,path,status}, `path` being a route pattern so cardinality stays bounded.
    void http_request(std::string_view method, std::string_view route, int status, double seconds);

    /// Prometheus text format of everything, with what include() added.
    std::string serialize() const;
    /// Serves `collectable`'s series too (the queue's gauges); before the gateway serves.
    void include(std::shared_ptr<prometheus::Collectable> collectable);

  private:
    struct CodeSeries {
        prometheus::Counter* total;
        prometheus::Histogram* seconds;
    };
    struct FunctionSeries {
        prometheus::Counter* started = nullptr;
        std::map<int, CodeSeries> codes;
    };
    struct HttpSeries {
        prometheus::Counter* total;
        prometheus::Histogram* seconds;
    };

    std::shared_ptr<prometheus::Registry> registry_;
    std::vector<std::shared_ptr<prometheus::Collectable>> included_;
    prometheus::Family<prometheus::Counter>& invocation_total_;
    prometheus::Family<prometheus::Histogram>& functions_seconds_;
    prometheus::Family<prometheus::Counter>& invocation_started_;
    prometheus::Family<prometheus::Gauge>& service_count_;
    prometheus::Family<prometheus::Gauge>& desired_replicas_;
    prometheus::Family<prometheus::Counter>& http_total_;
    prometheus::Family<prometheus::Histogram>& http_seconds_;

    mutable std::shared_mutex functions_mutex_;
    std::map<std::string, FunctionSeries> functions_;
    using GaugeMap = std::map<std::string, prometheus::Gauge*>;
    /// Makes `gauges` (of `family`) exactly `values`.
    void sync_gauges(prometheus::Family<prometheus::Gauge>& family, GaugeMap& gauges,
                     const std::map<std::string, int>& values);
    std::mutex gauges_mutex_;
    GaugeMap gauges_;
    GaugeMap desired_gauges_;
    /// Method and route are views of string literals (known_method, the route table), so a key is
    /// built per request without allocating.
    struct HttpKey {
        std::string_view method;
        std::string_view route;
        int status;
        bool operator<(const HttpKey& other) const {
            if (status != other.status) return status < other.status;
            if (method != other.method) return method < other.method;
            return route < other.route;
        }
    };
    mutable std::shared_mutex http_mutex_;
    std::map<HttpKey, HttpSeries> http_;
};

}  // namespace faas::gateway
