// The built-in autoscaler's loop: every interval it samples each function's calls (from the
// gateway's own metrics: no Prometheus needed), scales idle functions labelled
// com.openfaas.scale.zero to zero, and moves autoscaled functions (a com.openfaas.scale.target
// and min != max) to the Autoscaler's replica count. Every decision is logged with its reason
// and exported as gateway_autoscaler_desired_replicas. A function whose calls the Waker holds
// is left alone: it is being started.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "autoscale/autoscaler.h"
#include "autoscale/load_window.h"
#include "autoscale/waker.h"
#include "metrics.h"
#include "provider/function_provider.h"

namespace faas::gateway {

class ScaleController {
  public:
    using Clock = LoadWindow::Clock;

    /// Everything given must outlive the controller; `waker` may be null. Call start() to run
    /// it on its own thread, or step() by hand (tests).
    ScaleController(FunctionProvider& provider, Metrics& metrics, const Waker* waker,
                    std::chrono::nanoseconds interval);
    ~ScaleController();
    ScaleController(const ScaleController&) = delete;
    ScaleController& operator=(const ScaleController&) = delete;

    void start();
    /// Stops and joins the thread; idempotent.
    void stop();

    /// One round of samples and decisions at `now` (not going back).
    void step(Clock::time_point now);

  private:
    struct Tracked {
        Autoscaler autoscaler;
        LoadWindow load;
        std::uint64_t started = 0;    ///< Calls started at the last sample.
        Clock::time_point last_call;  ///< Last sample that saw a call start or run.
    };

    void run();
    void scale(const std::string& function, int replicas, const std::string& why);

    FunctionProvider& provider_;
    Metrics& metrics_;
    const Waker* waker_;
    const std::chrono::nanoseconds interval_;
    std::map<std::string, Tracked> tracked_;  ///< The controller thread's own.
    std::string last_problem_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace faas::gateway
