// Load samples and their averages over a window.
#include "autoscale/load_window.h"

#include <algorithm>

namespace faas::gateway {

void LoadWindow::record(Clock::time_point now, double in_flight, std::uint64_t completed_total) {
    if (!samples_.empty()) {
        if (now <= samples_.back().at) return;
        if (completed_total < samples_.back().completed_total) samples_.clear();
    }
    samples_.push_back({now, in_flight, completed_total});
    // Keep one sample at or before the longest window's start, and none older.
    while (samples_.size() >= 2 && samples_[1].at <= now - kLongestWindow) samples_.pop_front();
}

std::optional<double> LoadWindow::average(Metric metric, Clock::duration window,
                                          Clock::time_point now) const {
    auto start = now - window;
    auto by_time = [](const Sample& s, Clock::time_point t) { return s.at < t; };
    // The samples in the window: at or after its start, not after `now`.
    auto first = std::lower_bound(samples_.begin(), samples_.end(), start, by_time);
    auto last = std::find_if(first, samples_.end(), [now](const Sample& s) { return s.at > now; });
    if (metric == Metric::kInFlight) {
        if (first == last) return std::nullopt;
        double sum = 0;
        for (auto it = first; it != last; ++it) sum += it->in_flight;
        return sum / static_cast<double>(last - first);
    }
    // The rate's baseline is the newest sample at or before the window's start, when kept.
    auto base = first;
    if (base != samples_.begin() && (base == samples_.end() || base->at > start)) --base;
    if (last - base < 2) return std::nullopt;
    const Sample& newest = *(last - 1);
    std::chrono::duration<double> span = newest.at - base->at;
    return static_cast<double>(newest.completed_total - base->completed_total) / span.count();
}

LoadWindow::Clock::duration LoadWindow::history(Clock::time_point now) const {
    if (samples_.empty() || samples_.front().at > now) return Clock::duration::zero();
    return now - samples_.front().at;
}

}  // namespace faas::gateway
