// The in-progress ticker's thread.
#include "in_progress_ticker.h"

#include "log.h"

namespace faas::queue_worker {

InProgressTicker::InProgressTicker(std::chrono::milliseconds interval)
    : interval_(interval), thread_([this] { run(); }) {}

InProgressTicker::~InProgressTicker() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

InProgressTicker::Scope::Scope(InProgressTicker& ticker, queue::Delivery& delivery)
    : ticker_(ticker) {
    {
        std::lock_guard lock(ticker_.mutex_);
        id_ = ticker_.next_id_++;
        ticker_.entries_.emplace(id_, Entry{&delivery, Clock::now() + ticker_.interval_});
    }
    ticker_.changed_.notify_all();
}

InProgressTicker::Scope::~Scope() {
    // Taking the lock waits out an in_progress() being sent for this delivery right now.
    std::lock_guard lock(ticker_.mutex_);
    ticker_.entries_.erase(id_);
}

void InProgressTicker::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        Clock::time_point next = Clock::time_point::max();
        for (const auto& [id, entry] : entries_) next = std::min(next, entry.due);
        if (next == Clock::time_point::max()) {
            changed_.wait(lock);
            continue;
        }
        if (changed_.wait_until(lock, next) == std::cv_status::no_timeout) continue;
        const auto now = Clock::now();
        for (auto& [id, entry] : entries_) {
            if (entry.due > now) continue;
            entry.due = now + interval_;
            // Under the lock, so the delivery cannot be acknowledged and freed meanwhile; it
            // only queues a small message on the connection.
            try {
                entry.delivery->in_progress();
            } catch (const queue::QueueError& e) {
                // Disconnected: the server redelivers after ack_wait, at-least-once.
                log_line(std::string("Cannot mark a call in progress: ") + e.what());
            }
        }
    }
}

}  // namespace faas::queue_worker
