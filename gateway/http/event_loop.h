// One epoll loop on one thread: file descriptors with a watcher each, a few timers, and tasks
// posted from other threads. The gateway runs one per core; everything a loop owns is touched
// only on its thread, so nothing on the hot path takes a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace faas::gateway {

class EventLoop {
  public:
    using Clock = std::chrono::steady_clock;

    /// Receives the epoll events of one descriptor.
    class Watcher {
      public:
        virtual void on_events(std::uint32_t events) = 0;

      protected:
        ~Watcher() = default;
    };

    /// Fires once on the loop thread after `deadline`; Clock::time_point::max() is off.
    struct Timer {
        Clock::time_point deadline = Clock::time_point::max();
        std::function<void()> fire;
    };

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Loop thread only (or before run()). add and modify return false with errno set when
    // epoll_ctl fails: they run inside libcurl's callbacks, where nothing may throw.
    [[nodiscard]] bool add(int fd, std::uint32_t events, Watcher* watcher);
    [[nodiscard]] bool modify(int fd, std::uint32_t events, Watcher* watcher);
    void remove(int fd);
    /// `timer` must outlive the loop or be removed before it dies.
    void add_timer(Timer* timer);
    void remove_timer(Timer* timer);

    /// Runs `task` after the events of this wake-up have been handled: for freeing an object
    /// that a later event of the same batch may still point at.
    void defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

    /// Runs until stop(). Tasks posted and not yet run when it returns are dropped.
    void run();
    /// Any thread.
    void stop();
    /// Any thread: runs `task` on the loop thread soon.
    void post(std::function<void()> task);

  private:
    void run_posted();
    void run_timers();
    int next_timeout_ms() const;

    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::vector<Timer*> timers_;
    std::vector<std::function<void()>> deferred_;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::atomic<bool> stopping_{false};
};

}  // namespace faas::gateway
