// Watchdog metrics registry and exposition.
#include "metrics.h"

#include <prometheus/text_serializer.h>

namespace faas::watchdog {
namespace {

const prometheus::Histogram::BucketBoundaries& buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    return kBuckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("http_requests_total")
                    .Help("Total number of HTTP requests, by status code and method.")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("http_request_duration_seconds")
                    .Help("Seconds spent serving HTTP requests, by status code and method.")
                    .Register(*registry_)),
      in_flight_(prometheus::BuildGauge()
                     .Name("http_requests_in_flight")
                     .Help("HTTP requests being served right now.")
                     .Register(*registry_)
                     .Add({})) {}

void Metrics::record(const std::string& method, int code, double seconds) {
    // Only methods we know become label values, so odd clients cannot grow the series set.
    const std::string& label =
        (method == "GET" || method == "POST" || method == "PUT" || method == "PATCH" ||
         method == "DELETE" || method == "HEAD" || method == "OPTIONS")
            ? method
            : std::string("other");
    prometheus::Labels labels{{"code", std::to_string(code)}, {"method", label}};
    requests_.Add(labels).Increment();
    duration_.Add(labels, buckets()).Observe(seconds);
}

std::string Metrics::serialize() const {
    prometheus::TextSerializer serializer;
    return serializer.Serialize(registry_->Collect());
}

}  // namespace faas::watchdog
