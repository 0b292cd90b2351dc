// The Swarm provider's cache of ready (and starting) task addresses and its refresher thread.
#include "provider/swarm/endpoint_cache.h"

#include <algorithm>

#include "log.h"
#include "provider/swarm/service_mapping.h"
#include "provider/swarm/task_pause.h"

namespace faas::gateway::swarm {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// One order for a function's replicas, whichever list they came from.
void sort_endpoints(std::vector<Endpoint>& endpoints) {
    std::sort(endpoints.begin(), endpoints.end(),
              [](const Endpoint& a, const Endpoint& b) { return a.host < b.host; });
}

/// Adds a task's address to `ready` or `starting` as its state says; a task in neither state,
/// or without an address, to neither.
void add_task(const json& task, const std::string& network, std::vector<Endpoint>& ready,
              std::vector<Endpoint>& starting) {
    auto* into = task_ready(task) ? &ready : task_starting(task) ? &starting : nullptr;
    if (into == nullptr) return;
    if (auto address = task_address(task, network))
        into->push_back(Endpoint{*address, kWatchdogPort});
}

}  // namespace

EndpointCache::EndpointCache(const DockerClient& docker, FunctionsNetwork& network,
                             EndpointCacheOptions options)
    : docker_(docker), network_(network), options_(options) {}

EndpointCache::~EndpointCache() {
    stop();
}

void EndpointCache::start() {
    refresher_ = std::thread([this] { refresher(); });
}

void EndpointCache::stop() {
    {
        std::lock_guard lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (refresher_.joinable()) refresher_.join();
}

void EndpointCache::apply_pause(Cached& cached, bool paused) {
    cached.paused = paused;
    auto& into = paused ? cached.frozen : cached.starting;
    for (auto* from : {&cached.ready, &cached.starting, &cached.frozen}) {
        if (from == &into) continue;
        into.insert(into.end(), from->begin(), from->end());
        from->clear();
    }
    sort_endpoints(into);
}

Resolution EndpointCache::resolve(const std::string& name) {
    {
        std::shared_lock lock(cache_mutex_);
        auto it = cache_.find(name);
        if (it != cache_.end() && it->second.paused) return Resolution{true, {}, {}};
        if (it != cache_.end() && !it->second.ready.empty())
            return Resolution{true, it->second.ready, {}};  // starting: only when none is ready
        if (it != cache_.end()) {
            Resolution resolution{true, {}, it->second.starting};
            lock.unlock();
            request_refresh();  // deployed or scaled up moments ago: look again soon
            return resolution;
        }
    }
    request_refresh();
    return Resolution{};
}

void EndpointCache::remember(const std::string& name, const std::string& service_id) {
    {
        std::unique_lock lock(cache_mutex_);
        Cached remembered;
        remembered.service_id = service_id;
        remembered.remembered = std::chrono::steady_clock::now();
        cache_[name] = std::move(remembered);
    }
    request_refresh();
}

void EndpointCache::observe(const std::string& name, const std::string& service_id, bool paused,
                            const std::vector<json>& tasks) {
    const std::string network = network_.known();
    Cached observed;
    observed.service_id = service_id;
    for (const auto& task : tasks)
        if (task.value("ServiceID", "") == service_id)
            add_task(task, network, observed.ready, observed.starting);
    sort_endpoints(observed.ready);
    sort_endpoints(observed.starting);
    if (paused) apply_pause(observed, true);
    std::unique_lock lock(cache_mutex_);
    cache_[name] = std::move(observed);
}

void EndpointCache::set_paused(const std::string& name, bool paused) {
    {
        std::unique_lock lock(cache_mutex_);
        auto it = cache_.find(name);
        if (it == cache_.end()) return;
        apply_pause(it->second, paused);
        it->second.pause_changed = std::chrono::steady_clock::now();
    }
    request_refresh();
}

void EndpointCache::forget(const std::string& name) {
    {
        std::unique_lock lock(cache_mutex_);
        cache_.erase(name);
    }
    request_refresh();
}

std::size_t EndpointCache::size() const {
    std::shared_lock lock(cache_mutex_);
    return cache_.size();
}

void EndpointCache::refresh_now() {
    const auto started = std::chrono::steady_clock::now();
    auto services = function_services(docker_);
    auto tasks = running_tasks(docker_, "");
    const std::string network = network_.known();
    std::map<std::string, Cached> fresh;
    std::map<std::string, std::string> function_of_service;
    for (const auto& service : services) {
        auto name = *function_name_of(service);
        auto id = service.value("ID", "");
        fresh[name].service_id = id;
        fresh[name].paused = service_paused(service);
        function_of_service[id] = name;
    }
    for (const auto& task : tasks) {
        auto owner = function_of_service.find(task.value("ServiceID", ""));
        if (owner == function_of_service.end()) continue;
        auto& cached = fresh[owner->second];
        add_task(task, network, cached.ready, cached.starting);
    }
    for (auto& [name, cached] : fresh) {
        sort_endpoints(cached.ready);
        sort_endpoints(cached.starting);
        if (cached.paused) apply_pause(cached, true);
    }
    std::unique_lock lock(cache_mutex_);
    // Paused or unpaused while the lists were read: the lists may be older than that.
    for (auto& [name, cached] : cache_)
        if (auto it = fresh.find(name); it != fresh.end() && cached.pause_changed >= started &&
                                        it->second.paused != cached.paused) {
            apply_pause(it->second, cached.paused);
            it->second.pause_changed = cached.pause_changed;
        }
    // A function deployed while the lists were read is not in them yet: dropping it would turn
    // its first calls into 404s instead of 503s until the next refresh.
    for (auto& [name, cached] : cache_)
        if (cached.remembered >= started && fresh.find(name) == fresh.end())
            fresh.emplace(name, std::move(cached));
    cache_ = std::move(fresh);
}

void EndpointCache::request_refresh() {
    {
        std::lock_guard lock(wake_mutex_);
        refresh_requested_ = true;
    }
    wake_.notify_one();
}

void EndpointCache::refresher() {
    bool docker_was_down = false;
    auto last = std::chrono::steady_clock::now() - options_.refresh_interval;
    auto interval = options_.refresh_interval;
    for (;;) {
        {
            std::unique_lock lock(wake_mutex_);
            auto next_due = last + interval;
            wake_.wait_until(lock, next_due, [&] { return stopping_ || refresh_requested_; });
            // A request before the gap has passed is served when the gap ends.
            if (!stopping_ && refresh_requested_ &&
                std::chrono::steady_clock::now() < last + options_.min_refresh_gap)
                wake_.wait_until(lock, last + options_.min_refresh_gap, [&] { return stopping_; });
            if (stopping_) return;
            refresh_requested_ = false;
        }
        last = std::chrono::steady_clock::now();
        try {
            // Resolved here so task addresses come from the functions network from the start.
            try {
                network_.id();
            } catch (const DockerUnavailable&) {
                throw;
            } catch (const ProviderUnavailable&) {
                // No network yet: addresses fall back to each task's first network.
            }
            refresh_now();
            if (docker_was_down) log_line("Docker engine is back: function endpoints refreshed");
            docker_was_down = false;
            interval = options_.refresh_interval;
        } catch (const std::exception& e) {
            if (!docker_was_down)
                log_line(std::string("Cannot refresh function endpoints, serving the ") +
                         std::to_string(size()) + " known functions as they were: " + e.what());
            docker_was_down = true;
            // Back off while the engine is away, up to 5 s between attempts.
            interval = std::min<std::chrono::milliseconds>(interval * 2, 5s);
        }
    }
}

}  // namespace faas::gateway::swarm
