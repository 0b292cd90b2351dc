// The event loop's libcurl proxy against real sockets on loopback: what is forwarded, reuse of
// connections and handles, the answer, the ways a replica fails (refused, a connect that times
// out, a reset, too slow, too large, past the memory budget), with the loop still serving.
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

#include "memory_budget.h"
#include "support/process.h"

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

// An upstream that records what it was sent and the client ports it saw (to prove reuse).
struct Upstream {
    httplib::Server server;
    std::thread thread;
    int port = -1;
    std::mutex mutex;
    std::set<int> client_ports;
    std::string last_method, last_body, last_target, last_content_type, last_test_header;
    bool saw_accept = false;

    Upstream() {
        auto record = [this](const httplib::Request& req) {
            std::lock_guard lock(mutex);
            client_ports.insert(req.remote_port);
            last_method = req.method;
            last_body = req.body;
            last_target = req.target;
            last_content_type = req.get_header_value("Content-Type");
            last_test_header = req.get_header_value("X-Test");
            saw_accept = req.has_header("Accept");
        };
        auto echo = [record](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.set_header("X-Upstream", "yes");
            res.set_content(req.body, "text/x-echo");
        };
        server.Get("/redirect", [record](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.status = 302;
            res.set_header("Location", "/elsewhere");
        });
        server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(700ms);
            res.set_content("late", "text/plain");
        });
        server.Get("/big", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(std::string(4096, 'x'), "text/plain");
        });
        server.Get(".*", echo);
        server.Post(".*", echo);
        server.Put(".*", echo);
        server.Delete(".*", echo);
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
        return call(endpoint, "POST", "/echo", std::move(body), {}, limit);
    }
    std::optional<ProxyResult> call(const Endpoint& endpoint, std::string method, std::string path,
                                    std::string body, HeaderList headers = {},
                                    std::chrono::seconds limit = 10s) {
        auto done = std::make_shared<std::promise<ProxyResult>>();
        auto future = done->get_future();
        // The request views these strings: they live until the call is done.
        struct Owned {
            std::string method, path, body;
            HeaderList headers;
            ProxyRequest request;
        };
        auto owned = std::make_shared<Owned>(
            Owned{std::move(method), std::move(path), std::move(body), std::move(headers), {}});
        owned->request.method = owned->method;
        owned->request.path = owned->path;
        owned->request.body = owned->body;
        for (const auto& [name, value] : owned->headers)
            owned->request.headers.emplace_back(name, value);
        loop.post([this, endpoint, owned, done] {
            proxy->forward(endpoint, owned->request, [owned, done](ProxyResult&& result) {
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

TEST_CASE("async proxy: method, path, query, body and headers are forwarded as written") {
    Upstream upstream;
    LoopThread loop(fast_options());
    auto result = loop.call(Endpoint{"127.0.0.1", upstream.port}, "POST", "/a/b%20c?x=1", "hello",
                            {{"X-Test", "1"}});
    REQUIRE(result);
    REQUIRE(result->outcome == ProxyOutcome::kOk);
    CHECK(result->body == "hello");
    bool upstream_header = false;
    for (const auto& [name, value] : result->headers)
        if (name == "X-Upstream" && value == "yes") upstream_header = true;
    CHECK(upstream_header);
    std::lock_guard lock(upstream.mutex);
    CHECK(upstream.last_method == "POST");
    CHECK(upstream.last_target == "/a/b%20c?x=1");
    CHECK(upstream.last_test_header == "1");
    CHECK(upstream.last_content_type.empty());  // curl adds no form content type
    CHECK_FALSE(upstream.saw_accept);           // nor an Accept the client did not send
}

TEST_CASE("async proxy: a reused handle carries nothing of the previous call into the next") {
    // Handles keep their options between calls (no curl_easy_reset): each call must set its
    // method and body in full.
    Upstream upstream;
    LoopThread loop(fast_options());
    const Endpoint endpoint{"127.0.0.1", upstream.port};
    auto call = [&](const std::string& method, const std::string& body) {
        auto result = loop.call(endpoint, method, "/m", body);
        REQUIRE(result);
        REQUIRE(result->outcome == ProxyOutcome::kOk);
        if (method == "HEAD") CHECK(result->body.empty());
        std::lock_guard lock(upstream.mutex);
        return std::pair(upstream.last_method, upstream.last_body);
    };
    using Seen = std::pair<std::string, std::string>;
    CHECK(call("POST", "payload") == Seen("POST", "payload"));
    CHECK(call("GET", "") == Seen("GET", ""));
    CHECK(call("HEAD", "") == Seen("HEAD", ""));
    CHECK(call("GET", "") == Seen("GET", ""));
    CHECK(call("PUT", "payload") == Seen("PUT", "payload"));
    CHECK(call("DELETE", "") == Seen("DELETE", ""));
    CHECK(call("POST", "") == Seen("POST", ""));
    CHECK(call("GET", "") == Seen("GET", ""));
}

TEST_CASE("async proxy: replicas are dialled directly, whatever http_proxy says") {
    Upstream upstream;
    const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(faas::test::free_port());
    ::setenv("http_proxy", dead_proxy.c_str(), 1);
    LoopThread loop(fast_options());
    auto result = loop.call(Endpoint{"127.0.0.1", upstream.port}, "GET", "/", "");
    ::unsetenv("http_proxy");
    REQUIRE(result);
    CHECK(result->outcome == ProxyOutcome::kOk);
}

TEST_CASE("async proxy: a 302 stays a 302 and its headers come back") {
    Upstream upstream;
    LoopThread loop(fast_options());
    auto result = loop.call(Endpoint{"127.0.0.1", upstream.port}, "GET", "/redirect", "");
    REQUIRE(result);
    REQUIRE(result->outcome == ProxyOutcome::kOk);
    CHECK(result->status == 302);
    bool has_location = false;
    for (const auto& [name, value] : result->headers)
        if (name == "Location" && value == "/elsewhere") has_location = true;
    CHECK(has_location);
}

TEST_CASE("async proxy: too slow is kTimeout, too large kTooLarge, past the budget kOverBudget") {
    Upstream upstream;
    const Endpoint endpoint{"127.0.0.1", upstream.port};
    {
        ProxyOptions options = fast_options();
        options.timeout = 300ms;
        options.max_response_bytes = 1024;
        LoopThread loop(options);
        const auto started = std::chrono::steady_clock::now();
        auto slow = loop.call(endpoint, "GET", "/slow", "");
        REQUIRE(slow);
        CHECK(slow->outcome == ProxyOutcome::kTimeout);
        CHECK(std::chrono::steady_clock::now() - started < 650ms);
        auto big = loop.call(endpoint, "GET", "/big", "");
        REQUIRE(big);
        CHECK(big->outcome == ProxyOutcome::kTooLarge);
        CHECK(big->body.empty());
    }
    faas::MemoryBudget budget(2048);
    ProxyOptions options = fast_options();
    options.budget = &budget;
    LoopThread loop(options);
    auto over = loop.call(endpoint, "GET", "/big", "");  // 4096 bytes against 2048
    REQUIRE(over);
    CHECK(over->outcome == ProxyOutcome::kOverBudget);
    CHECK(budget.in_use() == 0);  // what it had taken is given back
    auto small = loop.call(endpoint, "hello");
    REQUIRE(small);
    CHECK(small->outcome == ProxyOutcome::kOk);
    CHECK(small->reservation.bytes() >= 5);  // counted while the answer is held
    small.reset();
    CHECK(budget.in_use() == 0);
}
