// The decision core of the built-in autoscaler (issue #12): from a function's scale policy,
// its replica count and its recent load, whether and where to scale. Pure: time is given.
// It follows Knative's KPA: a 60 s stable window that scales down gradually, and a 6 s panic
// window that scales up at once when demand reaches twice the current capacity.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "autoscale/load_window.h"
#include "autoscale/scale_policy.h"

namespace faas::gateway {

struct ScaleDecision {
    int desired = 0;     ///< The replica count to scale to; never the current one.
    std::string reason;  ///< One line for the log, with the numbers behind the decision.
    bool panic = false;  ///< Whether the decision was taken in panic mode.
};

/// One per function: holds whether it is in panic mode between decisions.
class Autoscaler {
  public:
    static constexpr std::chrono::seconds kStableWindow{60};
    static constexpr std::chrono::seconds kPanicWindow{6};
    /// Panic starts when the panic window's load needs this many times the current replicas.
    static constexpr double kPanicThreshold = 2.0;

    /// The replica count the function should move to, or nullopt to leave it alone: when the
    /// policy is not autoscaled, `current_replicas` is 0 (scale from zero is not ours), the
    /// load has no samples yet, or the answer is `current_replicas`. Stays within
    /// [max(min, 1), max]. Meant to be called every second or two, with `now` not going back.
    std::optional<ScaleDecision> decide(const ScalePolicy& policy, int current_replicas,
                                        const LoadWindow& load, LoadWindow::Clock::time_point now);

  private:
    /// When the panic condition last held; panic mode lasts kStableWindow beyond it.
    std::optional<LoadWindow::Clock::time_point> last_panic_;
};

}  // namespace faas::gateway
