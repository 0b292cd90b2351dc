// The worker's "stop" state: set once by the signal thread, read by every loop, and a wait
// that a stop cuts short, so no back-off or pause delays shutting down.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace faas::queue_worker {

class StopFlag {
  public:
    void request_stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
    }

    bool stopping() const {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

    /// Waits `duration`, or less if a stop is requested; true when stopping.
    bool wait_for(std::chrono::milliseconds duration) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, duration, [this] { return stopping_; });
    }

  private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    bool stopping_ = false;  ///< Guarded by mutex_.
};

}  // namespace faas::queue_worker
