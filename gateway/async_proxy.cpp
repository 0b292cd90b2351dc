// libcurl's multi socket interface on our epoll loop.
#include "async_proxy.h"

#include <curl/curl.h>
#include <sys/epoll.h>

#include <stdexcept>
#include <vector>

namespace faas::gateway {

struct AsyncProxy::Socket final : EventLoop::Watcher {
    AsyncProxy* owner = nullptr;
    int fd = -1;
    bool removed = false;  ///< curl is done with it; a late event of the same batch is ignored.

    void on_events(std::uint32_t events) override {
        if (removed) return;
        int mask = 0;
        if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) mask |= CURL_CSELECT_IN;
        if (events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events & EPOLLERR) mask |= CURL_CSELECT_ERR;
        owner->socket_action(fd, mask);
    }
};

AsyncProxy::AsyncProxy(EventLoop& loop, ProxyOptions options) : loop_(loop), pool_(options) {
    multi_ = curl_multi_init();
    if (!multi_) throw std::bad_alloc();
    CURLM* multi = static_cast<CURLM*>(multi_);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &AsyncProxy::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &AsyncProxy::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // Idle keep-alive connections to replicas kept for reuse by this loop.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 512L);
    timer_.fire = [this] { socket_action(CURL_SOCKET_TIMEOUT, 0); };
    loop_.add_timer(&timer_);
}

AsyncProxy::~AsyncProxy() {
    loop_.remove_timer(&timer_);
    CURLM* multi = static_cast<CURLM*>(multi_);
    for (auto& [easy, transfer] : transfers_) curl_multi_remove_handle(multi, easy);
    transfers_.clear();
    // Handles must leave the multi handle before it is cleaned up; the pool frees them after.
    curl_multi_cleanup(multi);
}

int AsyncProxy::on_socket(void*, int fd, int what, void* self, void* socket) {
    auto& proxy = *static_cast<AsyncProxy*>(self);
    auto* watched = static_cast<Socket*>(socket);
    if (what == CURL_POLL_REMOVE) {
        if (watched) {
            proxy.loop_.remove(fd);
            watched->removed = true;
            curl_multi_assign(static_cast<CURLM*>(proxy.multi_), fd, nullptr);
            proxy.loop_.defer([watched] { delete watched; });
        }
        return 0;
    }
    std::uint32_t events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
    if (!watched) {
        watched = new Socket;
        watched->owner = &proxy;
        watched->fd = fd;
        curl_multi_assign(static_cast<CURLM*>(proxy.multi_), fd, watched);
        proxy.loop_.add(fd, events, watched);
    } else {
        proxy.loop_.modify(fd, events, watched);
    }
    return 0;
}

int AsyncProxy::on_timer(void*, long timeout_ms, void* self) {
    auto& proxy = *static_cast<AsyncProxy*>(self);
    proxy.timer_.deadline = timeout_ms < 0
                                ? EventLoop::Clock::time_point::max()
                                : EventLoop::Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
}

void AsyncProxy::socket_action(int fd, int mask) {
    int running = 0;
    curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, mask, &running);
    collect_finished(false);
}

void AsyncProxy::collect_finished(bool later) {
    CURLM* multi = static_cast<CURLM*>(multi_);
    std::vector<std::unique_ptr<Transfer>> finished;
    int pending = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &pending)) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL* easy = message->easy_handle;
        const CURLcode code = message->data.result;
        auto it = transfers_.find(easy);
        if (it == transfers_.end()) continue;
        auto transfer = std::move(it->second);
        transfers_.erase(it);
        curl_multi_remove_handle(multi, easy);
        complete_call(*transfer->handle, code);
        pool_.release(std::move(transfer->handle));
        finished.push_back(std::move(transfer));
    }
    if (finished.empty()) return;
    if (later) {
        auto shared = std::make_shared<std::vector<std::unique_ptr<Transfer>>>(std::move(finished));
        loop_.post([shared] {
            for (auto& transfer : *shared) transfer->done(std::move(transfer->result));
        });
        return;
    }
    // Called back only now: a callback may start the next call (a retry), which re-enters curl.
    for (auto& transfer : finished) transfer->done(std::move(transfer->result));
}

void AsyncProxy::forward(const Endpoint& endpoint, const ProxyRequest& request, Done done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->handle = pool_.acquire();
    transfer->done = std::move(done);
    prepare_call(*transfer->handle, endpoint, request, transfer->result);
    CURL* easy = static_cast<CURL*>(easy_handle(*transfer->handle));
    CURLM* multi = static_cast<CURLM*>(multi_);
    if (CURLMcode code = curl_multi_add_handle(multi, easy); code != CURLM_OK) {
        complete_call(*transfer->handle, CURLE_FAILED_INIT);
        transfer->result.error = curl_multi_strerror(code);
        pool_.release(std::move(transfer->handle));
        auto failed = std::shared_ptr<Transfer>(std::move(transfer));
        loop_.post([failed] { failed->done(std::move(failed->result)); });
        return;
    }
    transfers_.emplace(easy, std::move(transfer));
    // Start now rather than on the next turn of the loop: the request is usually written
    // before this returns.
    int running = 0;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    // A transfer that already ended (refused at once) is reported on the next turn, so `done`
    // never runs inside forward().
    collect_finished(true);
}

}  // namespace faas::gateway
