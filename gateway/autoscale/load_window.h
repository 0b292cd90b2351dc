// The recent load of one function, as samples its caller takes about once a second, averaged
// over the autoscaler's windows (the last 60 s and the last 6 s).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace faas::gateway {

class LoadWindow {
  public:
    using Clock = std::chrono::steady_clock;

    enum class Metric {
        kInFlight,  ///< Mean of the in-flight samples in the window.
        kRps,       ///< Completed calls per second across the window.
    };

    /// The longest window average() is asked for; older samples are dropped.
    static constexpr std::chrono::seconds kLongestWindow{60};

    /// Adds a sample: calls in flight at `now`, and calls completed since the counting began.
    /// A sample not later than the newest is ignored; a completed_total below the newest one
    /// (the counter restarted) starts the history afresh.
    void record(Clock::time_point now, double in_flight, std::uint64_t completed_total);

    /// The load over the `window` before `now`. kInFlight needs a sample in the window;
    /// kRps needs two samples, the first of them the newest at or before the window's start
    /// when one is kept (so a full window's rate spans the full window). Nullopt otherwise.
    std::optional<double> average(Metric metric, Clock::duration window,
                                  Clock::time_point now) const;

    /// How far back the samples go: `now` minus the oldest kept sample; zero with none.
    /// At least `window` once a full window of history exists.
    Clock::duration history(Clock::time_point now) const;

  private:
    struct Sample {
        Clock::time_point at;
        double in_flight;
        std::uint64_t completed_total;
    };

    // Oldest first. Holds the samples of the last kLongestWindow plus the newest sample at or
    // before its start, the baseline of a full window's rate.
    std::deque<Sample> samples_;
};

}  // namespace faas::gateway
