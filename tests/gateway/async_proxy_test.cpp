// The event loop's libcurl proxy against real sockets on loopback: reuse, the answer, and the
// ways a replica fails (refused, a connect that times out, a reset), with the loop still
// serving afterwards.
#include "async_proxy.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <set>
#include <thread>

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

struct Upstream {
    httplib::Server server;
    std::thread thread;
    int port = -1;
    std::mutex mutex;
    std::set<int> client_ports;

    Upstream() {
        server.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(mutex);
                client_ports.insert(req.remote_port);
            }
            res.set_content(req.body, "text/x-echo");
        });
        server.set_keep_alive_max_count(1000);  // the library default (5) would hide reuse
        // Bound before the thread starts: connections wait in the backlog until it accepts.
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~Upstream() {
        server.stop();
        thread.join();
    }
};

// A port whose accept queue is full and never drained: the kernel drops further SYNs, so a
// connect to it times out, as one to a replica whose task IP vanished from the overlay does.
struct BlackHole {
    int listener = -1;
    std::vector<int> fillers;
    int port = 0;

    BlackHole() {
        listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listener, 0) == 0);
        socklen_t length = sizeof address;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
        port = ntohs(address.sin_port);
        // Backlog 0 still queues one or two: fill it with blocking connects that complete.
        for (int i = 0; i < 4; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
            fillers.push_back(fd);
        }
        std::this_thread::sleep_for(100ms);  // let the handshakes that can finish, finish
    }
    ~BlackHole() {
        for (int fd : fillers) ::close(fd);
        ::close(listener);
    }
};

// Runs the loop on a thread; calls are started on the loop with post().
struct LoopThread {
    EventLoop loop;
    std::optional<AsyncProxy> proxy;
    std::thread thread;

    explicit LoopThread(ProxyOptions options) {
        proxy.emplace(loop, options);
        thread = std::thread([this] { loop.run(); });
    }
    ~LoopThread() {
        loop.stop();
        thread.join();
        proxy.reset();
    }

    /// One call through the proxy, waited for (bounded).
    std::optional<ProxyResult> call(const Endpoint& endpoint, std::string body,
                                    std::chrono::seconds limit = 10s) {
        auto done = std::make_shared<std::promise<ProxyResult>>();
        auto future = done->get_future();
        auto request = std::make_shared<ProxyRequest>();
        auto owned_body = std::make_shared<std::string>(std::move(body));
        request->method = "POST";
        request->path = "/echo";
        request->body = *owned_body;
        loop.post([this, endpoint, request, owned_body, done] {
            proxy->forward(endpoint, *request, [request, owned_body, done](ProxyResult&& result) {
                done->set_value(std::move(result));
            });
        });
        if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
        return future.get();
    }
};

ProxyOptions fast_options() {
    ProxyOptions options;
    options.timeout = 3s;
    options.connect_timeout = 300ms;
    return options;
}

}  // namespace

TEST_CASE("async proxy: answers come back and connections are reused") {
    Upstream upstream;
    LoopThread loop(fast_options());
    const Endpoint endpoint{"127.0.0.1", upstream.port};
    for (int i = 0; i < 20; ++i) {
        auto result = loop.call(endpoint, "hello " + std::to_string(i));
        REQUIRE(result);
        CHECK(result->outcome == ProxyOutcome::kOk);
        CHECK(result->status == 200);
        CHECK(result->body == "hello " + std::to_string(i));
    }
    std::lock_guard lock(upstream.mutex);
    CHECK(upstream.client_ports.size() == 1);
}

TEST_CASE("async proxy: a refused connection is kRefused and the loop goes on") {
    // A port that was just free: bound, then closed without listening.
    int port = 0;
    {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
        port = ntohs(address.sin_port);
        ::close(fd);
    }
    Upstream upstream;
    LoopThread loop(fast_options());
    auto refused = loop.call(Endpoint{"127.0.0.1", port}, "x");
    REQUIRE(refused);
    CHECK(refused->outcome == ProxyOutcome::kRefused);
    auto ok = loop.call(Endpoint{"127.0.0.1", upstream.port}, "after");
    REQUIRE(ok);
    CHECK(ok->body == "after");
}

// A connect that times out is closed by curl before it asks to stop watching the socket; the
// proxy once answered that with epoll_ctl on the closed descriptor, threw inside curl's
// callback and ended the process (seen in the Swarm e2e test when a replica was killed).
TEST_CASE(
    "async proxy: connects that time out are kRefused, again and again, and the loop goes on") {
    BlackHole hole;
    Upstream upstream;
    LoopThread loop(fast_options());
    for (int i = 0; i < 3; ++i) {
        auto timed_out = loop.call(Endpoint{"127.0.0.1", hole.port}, "x");
        REQUIRE(timed_out);
        CHECK(timed_out->outcome == ProxyOutcome::kRefused);
        auto ok = loop.call(Endpoint{"127.0.0.1", upstream.port}, "between " + std::to_string(i));
        REQUIRE(ok);
        CHECK(ok->outcome == ProxyOutcome::kOk);
        CHECK(ok->body == "between " + std::to_string(i));
    }
}

TEST_CASE("async proxy: an upstream that goes away between calls") {
    auto first = std::make_unique<Upstream>();
    const int port = first->port;
    LoopThread loop(fast_options());
    auto ok = loop.call(Endpoint{"127.0.0.1", port}, "one");
    REQUIRE(ok);
    CHECK(ok->body == "one");
    first.reset();  // the cached connection is closed by the far end
    auto after = loop.call(Endpoint{"127.0.0.1", port}, "two");
    REQUIRE(after);
    CHECK(after->outcome != ProxyOutcome::kOk);
}
