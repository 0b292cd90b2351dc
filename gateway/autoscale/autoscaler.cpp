// The stable and panic windows' scaling rule.
#include "autoscale/autoscaler.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace faas::gateway {
namespace {

static_assert(Autoscaler::kStableWindow <= LoadWindow::kLongestWindow,
              "the load window must keep a full stable window");

// Keeps a load exactly at target from asking for one more replica through rounding error.
constexpr double kTolerance = 1e-9;

// "6 s average", or less when the history is shorter; "latest sample" with one sample.
std::string window_name(std::chrono::seconds window, const LoadWindow& load,
                        LoadWindow::Clock::time_point now) {
    auto covered = std::chrono::duration_cast<std::chrono::seconds>(load.history(now));
    if (covered <= std::chrono::seconds::zero()) return "latest sample";
    return std::to_string(std::min(covered, window).count()) + " s average";
}

std::string replicas_text(int count) {
    return std::to_string(count) + (count == 1 ? " replica" : " replicas");
}

}  // namespace

std::optional<ScaleDecision> Autoscaler::decide(const ScalePolicy& policy, int current_replicas,
                                                const LoadWindow& load,
                                                LoadWindow::Clock::time_point now) {
    if (!autoscaled(policy) || current_replicas <= 0) return std::nullopt;
    auto metric =
        policy.type == ScaleType::kRps ? LoadWindow::Metric::kRps : LoadWindow::Metric::kInFlight;
    auto stable = load.average(metric, kStableWindow, now);
    if (!stable) return std::nullopt;
    auto panic = load.average(metric, kPanicWindow, now);

    const int lowest = std::max(policy.min, 1);
    const int highest = std::max(policy.max, lowest);
    const double per_replica = *policy.target * policy.target_proportion;
    // Replicas that carry `value` at per_replica each; capped before the cast so that a huge
    // load cannot overflow an int.
    auto replicas_for = [per_replica](double value) {
        double needed = std::ceil(value / per_replica - kTolerance);
        return static_cast<int>(
            std::clamp(needed, 0.0, static_cast<double>(std::numeric_limits<int>::max())));
    };
    const double panic_ratio = panic ? *panic / (per_replica * current_replicas) : 0.0;
    if (panic_ratio >= kPanicThreshold - kTolerance)
        last_panic_ = now;
    else if (last_panic_ && now - *last_panic_ >= kStableWindow)
        last_panic_.reset();

    std::ostringstream reason;
    reason << std::fixed << std::setprecision(1);
    const char* unit = policy.type == ScaleType::kRps ? " rps" : " in flight";
    int desired = 0;
    if (last_panic_) {
        double value = panic.value_or(*stable);
        desired = std::max(current_replicas, replicas_for(value));
        reason << "panic: " << window_name(kPanicWindow, load, now) << " " << value << unit
               << " is " << value / (per_replica * current_replicas) << "x the capacity of "
               << replicas_text(current_replicas) << " (" << per_replica << " each)";
        if (*last_panic_ != now) {
            auto since = std::chrono::duration_cast<std::chrono::seconds>(now - *last_panic_);
            reason << "; no scale-down until " << (kStableWindow - since).count() << " s from now";
        }
    } else {
        desired = replicas_for(*stable);
        reason << "stable: " << window_name(kStableWindow, load, now) << " " << *stable << unit
               << " over " << replicas_text(current_replicas) << ", target " << per_replica
               << " per replica needs " << desired;
        if (desired < current_replicas) {
            if (load.history(now) < kStableWindow) {
                desired = current_replicas;  // Too little history to trust a lower load.
            } else if (int half = (current_replicas + 1) / 2; desired < half) {
                desired = half;
                reason << "; at most halving, to " << half;
            }
        }
    }
    int bounded = std::clamp(desired, lowest, highest);
    if (bounded != desired) reason << (bounded == highest ? "; max " : "; min ") << bounded;
    if (bounded == current_replicas) return std::nullopt;
    return ScaleDecision{bounded, reason.str(), last_panic_.has_value()};
}

}  // namespace faas::gateway
