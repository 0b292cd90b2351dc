// The calls one event loop holds while their function starts (scale from zero), in arrival
// order. A timer looks at them every few milliseconds: each goes on as soon as the Waker knows
// a replica that answers, or ends: its client left, the wait timed out, or waiting is
// pointless (the function is gone). Loop thread only.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "autoscale/waker.h"
#include "http/event_loop.h"

namespace faas::gateway {

enum class HoldEnd {
    kClientGone,  ///< The client closed its connection while waiting.
    kTimeout,     ///< No replica answered before the deadline.
    kFailed,      ///< The Waker says waiting is pointless (message and status with it).
};

class HoldQueue {
  public:
    using Clock = EventLoop::Clock;

    struct Held {
        std::string function;
        Clock::time_point deadline;
        Waker::Ticket ticket;
        std::function<bool()> client_gone;
        /// Exactly one of these two runs, once, on the loop thread.
        std::function<void(std::vector<Endpoint>)> release;
        std::function<void(HoldEnd, const Waker::Status&)> end;
    };

    /// `loop` and `waker` must outlive the queue.
    HoldQueue(EventLoop& loop, Waker& waker,
              std::chrono::milliseconds tick = std::chrono::milliseconds(5));
    ~HoldQueue();
    HoldQueue(const HoldQueue&) = delete;
    HoldQueue& operator=(const HoldQueue&) = delete;

    void hold(Held held);
    std::size_t size() const { return held_.size(); }

  private:
    void tick();
    void arm();

    EventLoop& loop_;
    Waker& waker_;
    const std::chrono::milliseconds tick_;
    std::deque<Held> held_;
    EventLoop::Timer timer_;
    bool armed_ = false;
};

}  // namespace faas::gateway
