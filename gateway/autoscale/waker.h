// Scale from zero: wakes a function that has calls waiting and no ready replica. However many
// calls wait, the provider is asked once for the function's minimum replicas (at least 1); the
// function's starting replicas are then probed here (GET /_/health every probe_interval), so a
// held call goes on as soon as one replica answers rather than at the provider's next health
// check. Admission is bounded: held calls per function and held bytes for all functions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "endpoint.h"
#include "provider/function_provider.h"

namespace faas::gateway {

struct WakerOptions {
    std::chrono::milliseconds probe_interval{10};
    std::uint64_t max_held_calls = 1000;         ///< Per function.
    std::uint64_t max_held_bytes = 64ULL << 20;  ///< All functions together.
};

/// GET http://host:port/_/health answered 200, connected within `connect_timeout` and
/// answered within `read_timeout`.
bool replica_answers_health(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                            std::chrono::milliseconds read_timeout);

/// Thread-safe. One thread, busy only while calls are held.
class Waker {
  public:
    using Probe = std::function<bool(const Endpoint&)>;

    /// `provider` must outlive the waker. `probe` defaults to replica_answers_health.
    Waker(FunctionProvider& provider, WakerOptions options, Probe probe = {});
    ~Waker();
    Waker(const Waker&) = delete;
    Waker& operator=(const Waker&) = delete;

    /// One held call's place: counted against the caps until it is destroyed.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& other) noexcept { *this = std::move(other); }
        Ticket& operator=(Ticket&& other) noexcept;
        ~Ticket() { release(); }
        void release();

      private:
        friend class Waker;
        Ticket(Waker* waker, std::string function, std::uint64_t bytes)
            : waker_(waker), function_(std::move(function)), bytes_(bytes) {}
        Waker* waker_ = nullptr;
        std::string function_;
        std::uint64_t bytes_ = 0;
    };

    /// Any thread: admits a call of `bytes` to `function` and starts waking the function when
    /// it is not waking already. nullopt when a cap is reached (the caller answers 429).
    std::optional<Ticket> admit(const std::string& function, std::uint64_t bytes);

    struct Status {
        /// Replicas that answer: the provider's ready ones, or starting ones that passed a probe.
        std::vector<Endpoint> endpoints;
        /// Set when waiting is pointless: the function is gone (404) or cannot be scaled (400).
        std::optional<std::string> error;
        int error_status = 0;
        /// The last transient failure asking the provider, for the message of a timeout.
        std::string last_problem;
    };
    /// Any thread, cheap: where a held call of `function` can go now.
    Status status(const std::string& function) const;

    /// Whether calls of `function` are held now (the autoscaler then leaves it alone).
    bool holding(const std::string& function) const;
    /// Scale requests made so far, all functions together (for tests and logs).
    std::uint64_t scale_requests() const;

    /// Stops the thread; idempotent. Held calls then time out with their holders.
    void stop();

  private:
    using Clock = std::chrono::steady_clock;
    struct Waking {
        std::uint64_t held = 0;
        std::uint64_t bytes = 0;
        /// When the replica count was last checked (and raised from zero when needed).
        std::optional<Clock::time_point> checked;
        std::vector<Endpoint> endpoints;
        std::optional<std::string> error;
        int error_status = 0;
        std::string last_problem;
        // For the one log line when the first replica answers: how long each step took.
        Clock::time_point since = Clock::now();         ///< The first call was held.
        std::optional<Clock::duration> scaled_after;    ///< The scale request returned.
        std::optional<Clock::duration> starting_after;  ///< A replica was first reported.
        bool announced = false;
    };

    /// "Ready for held calls: echo after 43 ms (...)", once per wake.
    static void announce(const std::string& function, const Waking& waking, Clock::time_point now);
    void leave(const std::string& function, std::uint64_t bytes);
    void run();
    /// One pass over the functions being woken, without the lock while asking or probing.
    void pass();
    void check_replicas(const std::string& function);

    FunctionProvider& provider_;
    const WakerOptions options_;
    const Probe probe_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, Waking> waking_;
    std::uint64_t held_bytes_ = 0;
    std::uint64_t scale_requests_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace faas::gateway
