// A loop's held calls and the timer that moves them on.
#include "autoscale/hold_queue.h"

#include <map>

namespace faas::gateway {

HoldQueue::HoldQueue(EventLoop& loop, Waker& waker, std::chrono::milliseconds tick)
    : loop_(loop), waker_(waker), tick_(tick) {
    timer_.fire = [this] {
        armed_ = false;
        this->tick();
    };
    loop_.add_timer(&timer_);
}

HoldQueue::~HoldQueue() {
    loop_.remove_timer(&timer_);
}

void HoldQueue::hold(Held held) {
    held_.push_back(std::move(held));
    arm();
}

void HoldQueue::arm() {
    if (armed_ || held_.empty()) return;
    armed_ = true;
    timer_.deadline = Clock::now() + tick_;
}

void HoldQueue::tick() {
    const auto now = Clock::now();
    // One look at the Waker per function per tick, however many of its calls wait here.
    std::map<std::string, Waker::Status, std::less<>> statuses;
    // Taken out first: a released call may be refused everywhere and held again, at the back.
    std::deque<Held> waiting;
    waiting.swap(held_);
    while (!waiting.empty()) {
        Held held = std::move(waiting.front());
        waiting.pop_front();
        if (held.client_gone && held.client_gone()) {
            held.ticket.release();
            held.end(HoldEnd::kClientGone, Waker::Status{});
            continue;
        }
        auto it = statuses.find(held.function);
        if (it == statuses.end())
            it = statuses.emplace(held.function, waker_.status(held.function)).first;
        const Waker::Status& status = it->second;
        if (!status.endpoints.empty()) {
            held.ticket.release();
            held.release(status.endpoints);
        } else if (status.error) {
            held.ticket.release();
            held.end(HoldEnd::kFailed, status);
        } else if (now >= held.deadline) {
            held.ticket.release();
            held.end(HoldEnd::kTimeout, status);
        } else {
            held_.push_back(std::move(held));
        }
    }
    arm();
}

}  // namespace faas::gateway
