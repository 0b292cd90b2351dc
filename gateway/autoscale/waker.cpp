// Waking functions for held calls: admission, the one scale request, the fast probes.
#include "autoscale/waker.h"

#include <httplib.h>

#include <algorithm>

#include "log.h"
#include "scaling.h"

namespace faas::gateway {
namespace {

/// While calls are held, the replica count is looked at again this often: a scale-down that
/// landed just after ours (the idle scaler, an operator) must not strand them.
constexpr auto kRecheckInterval = std::chrono::seconds(1);
// A replica whose network is not up yet drops the SYN rather than refusing it: a short connect
// timeout tries again soon (a Swarm task's container starts well after its address is known).
constexpr auto kProbeConnectTimeout = std::chrono::milliseconds(50);
constexpr auto kProbeReadTimeout = std::chrono::milliseconds(500);

bool contains(const std::vector<Endpoint>& endpoints, const Endpoint& endpoint) {
    return std::any_of(endpoints.begin(), endpoints.end(), [&](const Endpoint& known) {
        return known.host == endpoint.host && known.port == endpoint.port;
    });
}

}  // namespace

bool replica_answers_health(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                            std::chrono::milliseconds read_timeout) {
    httplib::Client client(endpoint.host, endpoint.port);
    client.set_connection_timeout(connect_timeout);
    client.set_read_timeout(read_timeout);
    client.set_write_timeout(read_timeout);
    auto answer = client.Get("/_/health");
    return answer && answer->status == 200;
}

Waker::Ticket& Waker::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        release();
        waker_ = std::exchange(other.waker_, nullptr);
        function_ = std::move(other.function_);
        bytes_ = other.bytes_;
    }
    return *this;
}

void Waker::Ticket::release() {
    if (waker_ != nullptr) std::exchange(waker_, nullptr)->leave(function_, bytes_);
}

Waker::Waker(FunctionProvider& provider, WakerOptions options, Probe probe)
    : provider_(provider),
      options_(options),
      probe_(probe ? std::move(probe) : Probe([](const Endpoint& e) {
          return replica_answers_health(e, kProbeConnectTimeout, kProbeReadTimeout);
      })) {
    thread_ = std::thread([this] { run(); });
}

Waker::~Waker() {
    stop();
}

void Waker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::optional<Waker::Ticket> Waker::admit(const std::string& function, std::uint64_t bytes) {
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        auto it = waking_.find(function);
        const std::uint64_t held = it == waking_.end() ? 0 : it->second.held;
        if (held >= options_.max_held_calls || held_bytes_ + bytes > options_.max_held_bytes)
            return std::nullopt;
        if (it == waking_.end()) it = waking_.emplace(function, Waking{}).first;
        first = it->second.held == 0;
        ++it->second.held;
        it->second.bytes += bytes;
        held_bytes_ += bytes;
    }
    if (first) wake_.notify_all();
    return Ticket(this, function, bytes);
}

void Waker::leave(const std::string& function, std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    held_bytes_ -= bytes;
    auto it = waking_.find(function);
    if (it == waking_.end()) return;
    it->second.bytes -= bytes;
    // The last held call gone: the next one starts afresh (checks the replica count again).
    if (--it->second.held == 0) waking_.erase(it);
}

Waker::Status Waker::status(const std::string& function) const {
    std::lock_guard lock(mutex_);
    auto it = waking_.find(function);
    if (it == waking_.end()) return {};
    return Status{it->second.endpoints, it->second.error, it->second.error_status,
                  it->second.last_problem};
}

bool Waker::holding(const std::string& function) const {
    std::lock_guard lock(mutex_);
    return waking_.count(function) != 0;
}

std::uint64_t Waker::scale_requests() const {
    std::lock_guard lock(mutex_);
    return scale_requests_;
}

void Waker::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (waking_.empty()) {
            wake_.wait(lock, [this] { return stopping_ || !waking_.empty(); });
            continue;
        }
        lock.unlock();
        pass();
        lock.lock();
        wake_.wait_for(lock, options_.probe_interval, [this] { return stopping_; });
    }
}

void Waker::pass() {
    std::vector<std::string> functions;
    {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now();
        for (const auto& [name, waking] : waking_)
            if (!waking.error && (!waking.checked || now - *waking.checked >= kRecheckInterval))
                functions.push_back(name);
    }
    for (const auto& name : functions) check_replicas(name);

    std::vector<std::string> waiting;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, waking] : waking_)
            if (!waking.error) waiting.push_back(name);
    }
    for (const auto& name : waiting) {
        Resolution resolution = provider_.resolve(name);
        std::vector<Endpoint> answering = std::move(resolution.ready);
        if (answering.empty()) {
            std::vector<Endpoint> known;
            {
                std::lock_guard lock(mutex_);
                if (auto it = waking_.find(name); it != waking_.end()) known = it->second.endpoints;
            }
            // A replica that answered once stays until the provider has its own view: a
            // second probe of it would only slow the held calls down.
            for (auto& endpoint : resolution.starting)
                if (contains(known, endpoint) || probe_(endpoint))
                    answering.push_back(std::move(endpoint));
        }
        std::lock_guard lock(mutex_);
        auto it = waking_.find(name);
        if (it == waking_.end()) continue;
        Waking& waking = it->second;
        const auto now = Clock::now();
        if (!waking.starting_after && (!answering.empty() || !resolution.starting.empty()))
            waking.starting_after = now - waking.since;
        if (!answering.empty() && !waking.announced) {
            waking.announced = true;
            announce(name, waking, now);
        }
        waking.endpoints = std::move(answering);
    }
}

void Waker::announce(const std::string& function, const Waking& waking, Clock::time_point now) {
    auto ms = [](Clock::duration d) {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) +
               " ms";
    };
    std::string steps;
    if (waking.scaled_after) steps += "scale request done at " + ms(*waking.scaled_after) + ", ";
    if (waking.starting_after)
        steps += "a replica reported at " + ms(*waking.starting_after) + ", ";
    steps += "one answered at " + ms(now - waking.since);
    log_line("Ready for held calls: " + function + " after " + ms(now - waking.since) + " (" +
             steps + ")");
}

void Waker::check_replicas(const std::string& function) {
    std::optional<std::string> error;
    int error_status = 0;
    std::string problem;
    bool scaled = false;
    try {
        auto record = provider_.get(function);
        if (!record) {
            error = "Cannot find service: " + function + ".";
            error_status = 404;
        } else if (record->replicas == 0) {
            const int replicas = std::max(1, scaling_bounds(record->deployment.labels).min);
            provider_.scale(function, replicas);
            scaled = true;
            {
                std::lock_guard lock(mutex_);
                ++scale_requests_;
            }
            log_line("Scaling " + function + " from zero to " + std::to_string(replicas) +
                     " for a held call");
        }
    } catch (const BadRequest& e) {
        error = std::string("Cannot scale ") + function + " from zero: " + e.what();
        error_status = 400;
    } catch (const NotFound&) {
        error = "Cannot find service: " + function + ".";
        error_status = 404;
    } catch (const std::exception& e) {
        // Dockerd slow or away: asked again at the next recheck, until the calls time out.
        problem = e.what();
    }
    std::lock_guard lock(mutex_);
    auto it = waking_.find(function);
    if (it == waking_.end()) return;
    it->second.checked = Clock::now();
    if (scaled && !it->second.scaled_after)
        it->second.scaled_after = *it->second.checked - it->second.since;
    it->second.error = std::move(error);
    it->second.error_status = error_status;
    if (!problem.empty() && problem != it->second.last_problem)
        log_line("Cannot wake " + function + ", trying again: " + problem);
    it->second.last_problem = std::move(problem);
}

}  // namespace faas::gateway
