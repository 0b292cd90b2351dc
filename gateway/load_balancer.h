// Picks which ready replica takes a call (the kernel has no IPVS here, so the gateway balances
// itself), and the order of the others for a retry after a refused connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "config.h"
#include "provider/function_provider.h"

namespace faas::gateway {

class LoadBalancer {
  public:
    explicit LoadBalancer(BalancingPolicy policy) : policy_(policy) {}

    /// Indexes into `endpoints`: the choice first, then every other one once.
    std::vector<std::size_t> order(const std::string& function,
                                   const std::vector<Endpoint>& endpoints);

    /// Counts a call in flight to `endpoint` for as long as it lives. Only least-in-flight
    /// reads the counts, so under round robin the guard does nothing (no lock, no key).
    class InflightGuard {
      public:
        InflightGuard(LoadBalancer& balancer, std::string key);
        ~InflightGuard();
        InflightGuard(const InflightGuard&) = delete;
        InflightGuard& operator=(const InflightGuard&) = delete;
        /// The moved-from guard counts nothing (a call kept across turns of an event loop).
        InflightGuard(InflightGuard&& other) noexcept
            : balancer_(other.balancer_), key_(std::move(other.key_)) {
            other.key_.clear();
        }

      private:
        LoadBalancer& balancer_;
        std::string key_;
    };
    InflightGuard track(const Endpoint& endpoint);

    /// Calls in flight to `endpoint` now (for tests and least-in-flight; 0 under round robin).
    int inflight(const Endpoint& endpoint) const;

    /// Drops the round-robin position of a removed function.
    void forget(const std::string& function);

  private:
    static std::string key_of(const Endpoint& endpoint);
    std::uint64_t next_turn(const std::string& function);

    const BalancingPolicy policy_;
    mutable std::shared_mutex turns_mutex_;
    std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>> turns_;
    mutable std::mutex inflight_mutex_;
    std::map<std::string, int> inflight_;  ///< Only endpoints with calls in flight.
};

}  // namespace faas::gateway
