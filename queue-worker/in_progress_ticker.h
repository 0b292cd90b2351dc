// Keeps calls that are still running from being delivered again: one thread sends an
// in-progress acknowledgement for every registered delivery each `interval` (ack_wait / 3),
// which restarts the server's ack_wait clock however long the call runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

#include "jetstream.h"

namespace faas::queue_worker {

class InProgressTicker {
  public:
    explicit InProgressTicker(std::chrono::milliseconds interval);
    /// Stops and joins the thread; every Scope must have ended before.
    ~InProgressTicker();
    InProgressTicker(const InProgressTicker&) = delete;
    InProgressTicker& operator=(const InProgressTicker&) = delete;

    /// While it lives, `delivery` is kept in progress. It must outlive the scope; once the
    /// scope has ended the ticker no longer touches it (so it may be acknowledged).
    class Scope {
      public:
        Scope(InProgressTicker& ticker, queue::Delivery& delivery);
        ~Scope();
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

      private:
        InProgressTicker& ticker_;
        std::uint64_t id_;
    };

  private:
    using Clock = std::chrono::steady_clock;
    struct Entry {
        queue::Delivery* delivery;
        Clock::time_point due;
    };

    void run();

    const std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::uint64_t, Entry> entries_;  ///< Guarded by mutex_, as are the two below.
    std::uint64_t next_id_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace faas::queue_worker
