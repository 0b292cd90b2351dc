// The Swarm provider's hot path: each function's ready task IPs (and those of tasks still
// starting, for a held call to probe), kept by a refresher thread (polled, and sooner when a
// lookup finds none) so that resolve() never waits on Docker. When dockerd is down or slow the
// cache stays as it was, so known functions keep answering from known replicas, and the next
// successful poll brings it up to date.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "endpoint.h"
#include "provider/swarm/docker_client.h"
#include "provider/swarm/engine_queries.h"

namespace faas::gateway::swarm {

struct EndpointCacheOptions {
    /// How often the cache is refreshed from the task list.
    std::chrono::milliseconds refresh_interval{1000};
    /// The least time between two refreshes when lookups ask for one.
    std::chrono::milliseconds min_refresh_gap{200};
};

/// Thread-safe. `docker` and `network` must outlive the cache.
class EndpointCache {
  public:
    EndpointCache(const DockerClient& docker, FunctionsNetwork& network,
                  EndpointCacheOptions options);
    ~EndpointCache();
    EndpointCache(const EndpointCache&) = delete;
    EndpointCache& operator=(const EndpointCache&) = delete;

    /// Starts the refresher thread.
    void start();
    /// Stops and joins it; idempotent.
    void stop();

    /// Cheap, never blocks on Docker. A known function without ready tasks asks for a refresh.
    /// `starting`: tasks Swarm wants running whose first health check has not passed yet.
    Resolution resolve(const std::string& name);
    /// Replaces the cache from the engine now. Throws DockerUnavailable, ProviderUnavailable.
    void refresh_now();
    /// Asks the refresher for a refresh soon (at most every min_refresh_gap).
    void request_refresh();
    /// A function deployed moments ago: known (a call gets 503, not 404) before its tasks run.
    void remember(const std::string& name, const std::string& service_id);
    /// Takes a function's ready (and starting) addresses from a task list just read for its
    /// status, so that a function the API reports available is one that calls reach, not one
    /// second later.
    void observe(const std::string& name, const std::string& service_id, bool paused,
                 const std::vector<nlohmann::json>& tasks);
    /// A function whose tasks were just paused (no calls go to them) or unpaused (they are
    /// reported as starting, so a held call probes them at once instead of waiting for a
    /// refresh). A refresh that began before this keeps it.
    void set_paused(const std::string& name, bool paused);
    void forget(const std::string& name);
    std::size_t size() const;

  private:
    struct Cached {
        std::string service_id;
        std::vector<Endpoint> ready;
        std::vector<Endpoint> starting;
        /// When deploy() made it known; a refresh that began before then keeps it.
        std::chrono::steady_clock::time_point remembered{};
        /// Paused tasks: their addresses are kept here, out of rotation.
        bool paused = false;
        std::vector<Endpoint> frozen;
        std::chrono::steady_clock::time_point pause_changed{};
    };
    static void apply_pause(Cached& cached, bool paused);
    void refresher();

    const DockerClient& docker_;
    FunctionsNetwork& network_;
    const EndpointCacheOptions options_;

    mutable std::shared_mutex cache_mutex_;
    std::map<std::string, Cached> cache_;

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool refresh_requested_ = false;
    bool stopping_ = false;
    std::thread refresher_;
};

}  // namespace faas::gateway::swarm
