// A thread pool that grows with the work and shrinks when idle: the watchdog's HTTP server
// runs on it (through cpp-httplib's task queue), and the gateway's admin workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace faas {

/// A pool that starts threads only when every thread is busy, up to
/// `max_threads`, and lets idle ones go: a watchdog at rest keeps a handful of threads, and a
/// burst of keep-alive connections still gets one thread each.
class ElasticThreadPool final {
  public:
    ElasticThreadPool(std::size_t min_threads, std::size_t max_threads);
    ~ElasticThreadPool();
    ElasticThreadPool(const ElasticThreadPool&) = delete;
    ElasticThreadPool& operator=(const ElasticThreadPool&) = delete;
    void enqueue(std::function<void()> job);
    /// Runs every queued job, then returns once every thread has finished.
    void shutdown();

  private:
    void work();

    std::size_t min_threads_;
    std::size_t max_threads_;
    std::mutex mutex_;
    std::condition_variable has_job_;
    std::condition_variable all_done_;
    std::deque<std::function<void()>> jobs_;
    std::size_t threads_ = 0;
    std::size_t idle_ = 0;
    bool shutting_down_ = false;
};

}  // namespace faas
