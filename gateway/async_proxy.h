// Forwards calls from an event loop: libcurl's multi socket interface, its sockets watched by
// the loop's epoll. One per loop, so the multi handle's connection cache is shared by every
// call on that loop and nothing here is touched by two threads.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <unordered_map>

#include "http/event_loop.h"
#include "proxy.h"

namespace faas::gateway {

class AsyncProxy {
  public:
    using Done = std::function<void(ProxyResult&&)>;

    AsyncProxy(EventLoop& loop, ProxyOptions options);
    /// Transfers still running are abandoned without calling back.
    ~AsyncProxy();
    AsyncProxy(const AsyncProxy&) = delete;
    AsyncProxy& operator=(const AsyncProxy&) = delete;

    /// Loop thread only. `request` (and what it views) must live until `done` runs; `done`
    /// runs on the loop thread, never from inside this call.
    void forward(const Endpoint& endpoint, const ProxyRequest& request, Done done);

    /// Calls in flight (for tests).
    std::size_t active() const { return transfers_.size(); }

    struct Socket;  ///< A libcurl socket watched by the loop (defined in async_proxy.cpp).

  private:
    struct Transfer {
        CurlHandlePtr handle;
        ProxyResult result;
        Done done;
    };

    static int on_socket(void* easy, int fd, int what, void* self, void* socket);
    static int on_close(void* self, int fd);
    static curl_socket_t on_open(void* self, curlsocktype purpose, curl_sockaddr* address);
    static int on_timer(void* multi, long timeout_ms, void* self);
    void socket_action(int fd, int mask);
    /// Reports ended transfers: now, or after the events being handled when `later`
    /// (EventLoop::defer, no syscall).
    void collect_finished(bool later);

    EventLoop& loop_;
    HandlePool pool_;
    void* multi_ = nullptr;
    EventLoop::Timer timer_;
    std::unordered_map<void*, std::unique_ptr<Transfer>> transfers_;  ///< By easy handle.
    std::unordered_map<int, std::unique_ptr<Socket>> sockets_;        ///< By descriptor.
};

}  // namespace faas::gateway
