// Round robin and least-in-flight over a function's ready replicas.
#include "load_balancer.h"

#include <limits>

namespace faas::gateway {

std::string LoadBalancer::key_of(const Endpoint& endpoint) {
    return endpoint.host + ":" + std::to_string(endpoint.port);
}

std::uint64_t LoadBalancer::next_turn(const std::string& function) {
    {
        std::shared_lock lock(turns_mutex_);
        auto it = turns_.find(function);
        if (it != turns_.end()) return it->second->fetch_add(1, std::memory_order_relaxed);
    }
    std::unique_lock lock(turns_mutex_);
    auto& turn = turns_[function];
    if (!turn) turn = std::make_unique<std::atomic<std::uint64_t>>(0);
    return turn->fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::size_t> LoadBalancer::order(const std::string& function,
                                             const std::vector<Endpoint>& endpoints) {
    std::vector<std::size_t> out;
    if (endpoints.empty()) return out;
    const std::size_t count = endpoints.size();
    std::size_t first = count == 1 ? 0 : static_cast<std::size_t>(next_turn(function) % count);
    if (policy_ == BalancingPolicy::kLeastInflight && count > 1) {
        // Fewest calls in flight wins; the round-robin turn breaks ties so idle replicas share.
        std::lock_guard lock(inflight_mutex_);
        int best = std::numeric_limits<int>::max();
        std::size_t chosen = first;
        for (std::size_t step = 0; step < count; ++step) {
            std::size_t i = (first + step) % count;
            auto it = inflight_.find(key_of(endpoints[i]));
            int load = it == inflight_.end() ? 0 : it->second;
            if (load < best) {
                best = load;
                chosen = i;
            }
        }
        first = chosen;
    }
    out.reserve(count);
    for (std::size_t step = 0; step < count; ++step) out.push_back((first + step) % count);
    return out;
}

LoadBalancer::InflightGuard::InflightGuard(LoadBalancer& balancer, std::string key)
    : balancer_(balancer), key_(std::move(key)) {
    if (key_.empty()) return;
    std::lock_guard lock(balancer_.inflight_mutex_);
    ++balancer_.inflight_[key_];
}

LoadBalancer::InflightGuard::~InflightGuard() {
    if (key_.empty()) return;
    std::lock_guard lock(balancer_.inflight_mutex_);
    auto it = balancer_.inflight_.find(key_);
    if (it != balancer_.inflight_.end() && --it->second <= 0) balancer_.inflight_.erase(it);
}

LoadBalancer::InflightGuard LoadBalancer::track(const Endpoint& endpoint) {
    if (policy_ != BalancingPolicy::kLeastInflight) return InflightGuard(*this, {});
    return InflightGuard(*this, key_of(endpoint));
}

int LoadBalancer::inflight(const Endpoint& endpoint) const {
    std::lock_guard lock(inflight_mutex_);
    auto it = inflight_.find(key_of(endpoint));
    return it == inflight_.end() ? 0 : it->second;
}

void LoadBalancer::forget(const std::string& function) {
    std::unique_lock lock(turns_mutex_);
    turns_.erase(function);
}

}  // namespace faas::gateway
