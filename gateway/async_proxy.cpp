// libcurl's multi socket interface on our epoll loop.
#include "async_proxy.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace faas::gateway {

// A socket of curl's in the loop's epoll set. When curl stops watching a connection (it went
// back to the connection cache) the registration is kept, parked, so the next call on the same
// connection costs no epoll_ctl. Nothing here may throw: it runs inside curl's callbacks.
//
// curl does not always close a socket through our close callback before it tells us to stop
// watching it (a connect that timed out is closed first, then removed), so the descriptor
// number of a REMOVE may already be closed, or even reused by another thread's socket: a
// REMOVE therefore never touches epoll. A closed descriptor leaves the epoll set by itself;
// a stale entry for a reused number is reset when curl opens a socket with it (on_open).
struct AsyncProxy::Socket final : EventLoop::Watcher {
    AsyncProxy* owner = nullptr;
    int fd = -1;
    std::uint32_t registered = 0;  ///< Events in the epoll set now; 0 when not in it.
    bool parked = false;           ///< curl is not watching it.
    bool closed = false;           ///< Gone; a late event of the same batch is ignored.

    void on_events(std::uint32_t events) override {
        if (closed) return;
        if (parked) {
            // An idle connection became readable (the replica closed it), or it was parked
            // while waiting to write: curl is not listening, so stop hearing about it. This
            // event proves the registration, hence the descriptor, is still this socket's.
            owner->loop_.remove(fd);
            registered = 0;
            return;
        }
        int mask = 0;
        if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) mask |= CURL_CSELECT_IN;
        if (events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events & EPOLLERR) mask |= CURL_CSELECT_ERR;
        owner->socket_action(fd, mask);
    }

    void want(std::uint32_t events) {
        if (registered == events) return;
        bool done = registered == 0 ? owner->loop_.add(fd, events, this)
                                    : owner->loop_.modify(fd, events, this);
        // The set and our record disagreed (the registration went with a closed descriptor
        // whose number came back, say): the other operation settles it.
        if (!done && errno == ENOENT) done = owner->loop_.add(fd, events, this);
        if (!done && errno == EEXIST) done = owner->loop_.modify(fd, events, this);
        // Otherwise curl's own timeouts end the transfer.
        registered = done ? events : 0;
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
    // Cleaning up closes the cached connections through on_close, which needs sockets_.
    curl_multi_cleanup(multi);
    for (auto& [fd, socket] : sockets_)
        if (socket->registered) loop_.remove(fd);
}

int AsyncProxy::on_socket(void*, int fd, int what, void* self, void* socketp) {
    auto& proxy = *static_cast<AsyncProxy*>(self);
    auto* watched = static_cast<Socket*>(socketp);
    CURLM* multi = static_cast<CURLM*>(proxy.multi_);
    if (what == CURL_POLL_REMOVE) {
        if (watched) {
            watched->parked = true;
            curl_multi_assign(multi, fd, nullptr);
        }
        return 0;
    }
    std::uint32_t events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
    if (!watched) {
        auto& owned = proxy.sockets_[fd];
        if (!owned) {
            owned = std::make_unique<Socket>();
            owned->owner = &proxy;
            owned->fd = fd;
        }
        watched = owned.get();
        watched->parked = false;
        curl_multi_assign(multi, fd, watched);
    }
    watched->want(events);
    return 0;
}

curl_socket_t AsyncProxy::on_open(void* self, curlsocktype, curl_sockaddr* address) {
    auto& proxy = *static_cast<AsyncProxy*>(self);
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    // A new socket with a number we still have an entry for: the old socket was closed
    // without our close callback, and its registration went with it.
    if (auto it = proxy.sockets_.find(fd); it != proxy.sockets_.end()) {
        it->second->closed = true;
        proxy.loop_.defer([doomed = std::shared_ptr<Socket>(std::move(it->second))] {});
        proxy.sockets_.erase(it);
    }
    return fd;
}

int AsyncProxy::on_close(void* self, int fd) {
    auto& proxy = *static_cast<AsyncProxy*>(self);
    if (auto it = proxy.sockets_.find(fd); it != proxy.sockets_.end()) {
        Socket* socket = it->second.get();
        if (socket->registered) proxy.loop_.remove(fd);
        socket->closed = true;
        // Later events of this batch may still point at it.
        proxy.loop_.defer([doomed = std::shared_ptr<Socket>(std::move(it->second))] {});
        proxy.sockets_.erase(it);
    }
    return ::close(fd);
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
        loop_.defer([shared] {
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
    // A connection remembers the callbacks of the handle that opened it.
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &AsyncProxy::on_open);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &AsyncProxy::on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
    CURLM* multi = static_cast<CURLM*>(multi_);
    if (CURLMcode code = curl_multi_add_handle(multi, easy); code != CURLM_OK) {
        complete_call(*transfer->handle, CURLE_FAILED_INIT);
        transfer->result.error = curl_multi_strerror(code);
        pool_.release(std::move(transfer->handle));
        auto failed = std::shared_ptr<Transfer>(std::move(transfer));
        loop_.defer([failed] { failed->done(std::move(failed->result)); });
        return;
    }
    transfers_.emplace(easy, std::move(transfer));
    // Start now rather than on the next turn of the loop: the request is usually written
    // before this returns.
    int running = 0;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    // A transfer that already ended (refused at once, or answered before we got back) is
    // reported once the loop is done with the current events, so `done`
    // never runs inside forward().
    collect_finished(true);
}

}  // namespace faas::gateway
