// The elastic thread pool.
#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace faas {

namespace {
constexpr auto kIdleThreadLifetime = std::chrono::seconds(30);
}

ElasticThreadPool::ElasticThreadPool(std::size_t min_threads, std::size_t max_threads)
    : min_threads_(min_threads), max_threads_(std::max<std::size_t>(1, max_threads)) {}

ElasticThreadPool::~ElasticThreadPool() {
    shutdown();
}

void ElasticThreadPool::enqueue(std::function<void()> job) {
    std::unique_lock<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
    if (idle_ < jobs_.size() && threads_ < max_threads_) {
        ++threads_;
        ++idle_;  // Counted idle until it picks up a job, so a burst starts one thread per job.
        std::thread([this] { work(); }).detach();
    }
    lock.unlock();
    has_job_.notify_one();
}

void ElasticThreadPool::shutdown() {
    std::unique_lock<std::mutex> lock(mutex_);
    shutting_down_ = true;
    has_job_.notify_all();
    all_done_.wait(lock, [this] { return threads_ == 0; });
}

void ElasticThreadPool::work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        bool woke = has_job_.wait_for(lock, kIdleThreadLifetime,
                                      [this] { return !jobs_.empty() || shutting_down_; });
        if (!jobs_.empty()) {
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            --idle_;
            lock.unlock();
            job();
            lock.lock();
            ++idle_;
            continue;
        }
        if (shutting_down_ || (!woke && threads_ > min_threads_)) break;
    }
    --idle_;
    --threads_;
    // Notified under the lock: once shutdown() sees zero threads the pool may be destroyed,
    // and this thread touches nothing of it after the lock is released.
    all_done_.notify_all();
}

}  // namespace faas
