// The autoscaler's loop: samples, scale to zero, autoscaling decisions.
#include "autoscale/scale_controller.h"

#include "autoscale/idle_tracker.h"
#include "autoscale/scale_policy.h"
#include "log.h"
#include "settings.h"

namespace faas::gateway {

ScaleController::ScaleController(FunctionProvider& provider, Metrics& metrics, const Waker* waker,
                                 std::chrono::nanoseconds interval)
    : provider_(provider), metrics_(metrics), waker_(waker), interval_(interval) {}

ScaleController::~ScaleController() {
    stop();
}

void ScaleController::start() {
    thread_ = std::thread([this] { run(); });
}

void ScaleController::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ScaleController::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        step(Clock::now());
        lock.lock();
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
}

void ScaleController::scale(const std::string& function, int replicas, const std::string& why) {
    try {
        provider_.scale(function, replicas);
        log_line("Autoscaler: scaled " + function + " to " + std::to_string(replicas) + ": " + why);
    } catch (const std::exception& e) {
        log_line("Autoscaler: cannot scale " + function + " to " + std::to_string(replicas) + " (" +
                 why + "): " + e.what());
    }
}

void ScaleController::step(Clock::time_point now) {
    std::vector<FunctionRecord> records;
    try {
        records = provider_.list();
        last_problem_.clear();
    } catch (const std::exception& e) {
        // Dockerd away: no decision on stale counts; said once, not every second.
        if (last_problem_ != e.what()) log_line(std::string("Autoscaler paused: ") + e.what());
        last_problem_ = e.what();
        return;
    }
    const auto activity = metrics_.activity();
    std::map<std::string, int> desired;
    std::map<std::string, Tracked> still_there;
    for (const auto& record : records) {
        const std::string& name = record.deployment.service;
        auto node = tracked_.extract(name);
        Tracked tracked;
        if (node) {
            tracked = std::move(node.mapped());
        } else {
            tracked.last_call = now;  // first seen (deployed, or the gateway started): not idle
            if (auto it = activity.find(name); it != activity.end())
                tracked.started = it->second.started;
        }
        Metrics::Activity calls;
        if (auto it = activity.find(name); it != activity.end()) calls = it->second;
        const std::uint64_t in_flight =
            calls.started > calls.finished ? calls.started - calls.finished : 0;
        if (calls.started != tracked.started || in_flight > 0) tracked.last_call = now;
        tracked.started = calls.started;
        tracked.load.record(now, static_cast<double>(in_flight), calls.finished);

        const ScalePolicy policy = scale_policy(record.deployment.labels);
        const bool managed = policy.zero || autoscaled(policy);
        if (managed) desired[name] = record.replicas;
        const bool starting = waker_ != nullptr && waker_->holding(name);
        if (managed && !starting && record.replicas > 0) {
            if (should_scale_to_zero(policy, tracked.last_call, in_flight, now)) {
                scale(name, 0,
                      "no call for " + format_duration(now - tracked.last_call) + " (" +
                          kScaleZeroDurationLabel + " " + format_duration(policy.zero_duration) +
                          ")");
                desired[name] = 0;
            } else if (autoscaled(policy)) {
                if (auto decision =
                        tracked.autoscaler.decide(policy, record.replicas, tracked.load, now)) {
                    scale(name, decision->desired, decision->reason);
                    desired[name] = decision->desired;
                }
            }
        }
        still_there.emplace(name, std::move(tracked));
    }
    tracked_ = std::move(still_there);
    metrics_.set_desired_replicas(desired);
}

}  // namespace faas::gateway
