// Health of the local provider's replicas: probing their /_/health, each probe on its own
// thread so that a hung replica holds up neither the others nor the supervisor, and what a run
// of answers means for a replica's place in the rotation.
#pragma once

#include <chrono>
#include <future>

namespace faas::gateway {

enum class Health {
    kHealthy,
    kUnhealthy,  ///< It said so (503: lock file gone, draining), or nothing listens on its port.
    kNoAnswer,   ///< Busy or hung: only a run of these takes it out of rotation.
};

/// GET http://127.0.0.1:<port>/_/health, with a 2 s read deadline.
Health probe_health(int port);

/// probe_health on a thread of its own; when no thread can be had, deferred (the probe then
/// runs when its answer is asked for).
std::future<Health> start_probe(int port);

/// One replica's standing, from its probes. A replica that answers unhealthy leaves the
/// rotation at once; one that does not answer in time only after three such probes in a row,
/// as with Docker's retries: a fork-mode replica busy with hundreds of calls answers late, and
/// taking it out then turned a slow second into a burst of 503s. A replica not in rotation is
/// probed at every pass, so a new one serves as soon as it first answers.
class HealthRecord {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kInterval = std::chrono::seconds(1);
    static constexpr int kRetries = 3;

    enum class Change { kNone, kJoined, kFailed, kUnanswered };

    /// Whether to probe now.
    bool due(Clock::time_point now) const { return !ready_ || now >= next_probe_; }
    /// Takes one probe's answer; says whether the replica joined or left the rotation.
    Change record(Health health, Clock::time_point now);
    /// Out of rotation, as a replica that has just been (re)started or is stopping.
    void reset() { *this = HealthRecord(); }
    void leave() { ready_ = false; }

    bool ready() const { return ready_; }
    bool ever_ready() const { return ever_ready_; }
    Clock::time_point ready_since() const { return ready_since_; }

  private:
    bool ready_ = false;
    bool ever_ready_ = false;
    Clock::time_point ready_since_;
    Clock::time_point next_probe_;
    int unanswered_ = 0;  ///< Probes in a row that got no answer in time.
};

}  // namespace faas::gateway
