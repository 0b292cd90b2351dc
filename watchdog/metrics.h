// The watchdog's Prometheus metrics, with the classic watchdog's names:
// http_requests_total{code,method}, http_request_duration_seconds{code,method},
// http_requests_in_flight.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace faas::watchdog {

class Metrics {
  public:
    Metrics();
    void request_started() { in_flight_.Increment(); }
    void request_ended() { in_flight_.Decrement(); }
    /// Counts a served request (every response, including ones refused before routing).
    void record(const std::string& method, int code, double seconds);
    /// The text exposition format, for GET /metrics.
    std::string serialize() const;

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& duration_;
    prometheus::Gauge& in_flight_;
};

}  // namespace faas::watchdog
