// The epoll loop.
#include "http/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace faas::gateway {
namespace {

[[noreturn]] void fail(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

EventLoop::EventLoop() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) fail("epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        ::close(epoll_fd_);
        fail("eventfd");
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = nullptr;  // the wake-up descriptor is the only one without a watcher
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
        ::close(wake_fd_);
        ::close(epoll_fd_);
        fail("epoll_ctl");
    }
}

EventLoop::~EventLoop() {
    ::close(wake_fd_);
    ::close(epoll_fd_);
}

bool EventLoop::add(int fd, std::uint32_t events, Watcher* watcher) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = watcher;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, Watcher* watcher) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = watcher;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) == 0;
}

void EventLoop::remove(int fd) {
    // A descriptor already closed by its owner has left the set by itself.
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::add_timer(Timer* timer) {
    timers_.push_back(timer);
}

void EventLoop::remove_timer(Timer* timer) {
    timers_.erase(std::remove(timers_.begin(), timers_.end(), timer), timers_.end());
}

void EventLoop::stop() {
    stopping_.store(true);
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
}

void EventLoop::post(std::function<void()> task) {
    bool first;
    {
        std::lock_guard lock(posted_mutex_);
        first = posted_.empty();
        posted_.push_back(std::move(task));
    }
    if (first) {
        std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }
}

void EventLoop::run_posted() {
    std::uint64_t count;
    (void)!::read(wake_fd_, &count, sizeof count);
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(posted_mutex_);
        tasks.swap(posted_);
    }
    for (auto& task : tasks) task();
}

int EventLoop::next_timeout_ms() const {
    auto next = Clock::time_point::max();
    for (const Timer* timer : timers_) next = std::min(next, timer->deadline);
    if (next == Clock::time_point::max()) return -1;
    auto now = Clock::now();
    if (next <= now) return 0;
    // Rounded up, so a timer is never woken for a millisecond early and then spun on.
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(next - now).count();
    return static_cast<int>(std::min<long long>((wait + 999) / 1000, 60'000));
}

void EventLoop::run_timers() {
    if (timers_.empty()) return;
    const auto now = Clock::now();
    // By index: a timer's callback may add or remove timers.
    for (std::size_t i = 0; i < timers_.size(); ++i) {
        Timer* timer = timers_[i];
        if (timer->deadline <= now) {
            timer->deadline = Clock::time_point::max();
            timer->fire();
        }
    }
}

void EventLoop::run() {
    constexpr int kBatch = 64;
    epoll_event events[kBatch];
    while (!stopping_.load(std::memory_order_relaxed)) {
        int ready = ::epoll_wait(epoll_fd_, events, kBatch, next_timeout_ms());
        if (ready < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait");
        }
        for (int i = 0; i < ready; ++i) {
            auto* watcher = static_cast<Watcher*>(events[i].data.ptr);
            if (watcher)
                watcher->on_events(events[i].events);
            else
                run_posted();
        }
        run_timers();
        while (!deferred_.empty()) {
            auto tasks = std::move(deferred_);
            deferred_.clear();
            for (auto& task : tasks) task();
        }
    }
}

}  // namespace faas::gateway
