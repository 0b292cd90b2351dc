// The libcurl proxy against a real upstream on loopback.
#include "proxy.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <set>
#include <thread>

#include "http_server.h"
#include "provider/replica_process.h"
#include "support/process.h"

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

// An upstream that records the client ports it saw, to prove connection reuse.
struct Upstream {
    httplib::Server server;
    std::thread thread;
    int port = -1;
    std::mutex mutex;
    std::set<std::string> peers;
    std::string last_method, last_body, last_target, last_content_type;
    bool saw_accept = false;

    Upstream() {
        auto record = [this](const httplib::Request& req) {
            std::lock_guard lock(mutex);
            peers.insert(req.remote_addr + ":" + std::to_string(req.remote_port));
            last_method = req.method;
            last_body = req.body;
            last_target = req.target;
            last_content_type = req.get_header_value("Content-Type");
            saw_accept = req.has_header("Accept");
        };
        auto echo = [record](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.set_header("X-Upstream", "yes");
            res.set_content(req.body.empty() ? "ok" : req.body, "text/x-echo");
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
        server.Delete(".*", echo);
        server.Put(".*", echo);
        server.set_keep_alive_max_count(1000);  // the library default (5) would hide reuse
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~Upstream() {
        server.stop();
        thread.join();
    }
};

}  // namespace

TEST_CASE("forwards method, path, query, body and headers, and reuses connections") {
    Upstream upstream;
    Proxy proxy(ProxyOptions{});
    std::string body = "hello";
    ProxyRequest request{"POST", "/a/b%20c?x=1", {{"X-Test", "1"}}, body};
    for (int i = 0; i < 20; ++i) {
        auto result = proxy.forward(Endpoint{"127.0.0.1", upstream.port}, request);
        REQUIRE(result.outcome == ProxyOutcome::kOk);
        CHECK(result.status == 200);
        CHECK(result.body == "hello");
    }
    std::lock_guard lock(upstream.mutex);
    CHECK(upstream.last_method == "POST");
    CHECK(upstream.last_target == "/a/b%20c?x=1");
    CHECK(upstream.last_content_type.empty());  // curl adds no form content type
    CHECK_FALSE(upstream.saw_accept);           // nor an Accept the client did not send
    CHECK(upstream.peers.size() == 1);          // one connection for 20 sequential calls
}

TEST_CASE("a reused handle carries nothing of the previous call into the next") {
    // Handles keep their options between calls (no curl_easy_reset): each call must set its
    // method and body in full.
    Upstream upstream;
    Proxy proxy(ProxyOptions{});
    const Endpoint endpoint{"127.0.0.1", upstream.port};
    std::string body = "payload";
    auto call = [&](std::string_view method, std::string_view with) {
        auto result = proxy.forward(endpoint, ProxyRequest{method, "/m", {}, with});
        REQUIRE(result.outcome == ProxyOutcome::kOk);
        std::lock_guard lock(upstream.mutex);
        return std::pair(upstream.last_method, upstream.last_body);
    };
    CHECK(call("POST", body) == std::pair<std::string, std::string>("POST", "payload"));
    CHECK(call("GET", {}) == std::pair<std::string, std::string>("GET", ""));
    auto head = proxy.forward(endpoint, ProxyRequest{"HEAD", "/m", {}, {}});
    REQUIRE(head.outcome == ProxyOutcome::kOk);
    CHECK(head.body.empty());
    CHECK(call("GET", {}) == std::pair<std::string, std::string>("GET", ""));
    CHECK(call("PUT", body) == std::pair<std::string, std::string>("PUT", "payload"));
    CHECK(call("DELETE", {}) == std::pair<std::string, std::string>("DELETE", ""));
    CHECK(call("POST", {}) == std::pair<std::string, std::string>("POST", ""));
    CHECK(call("GET", {}) == std::pair<std::string, std::string>("GET", ""));
}

TEST_CASE("handles idle past their lifetime leave the pool") {
    Upstream upstream;
    ProxyOptions options;
    options.idle_handle_lifetime = 50ms;
    Proxy proxy(options);
    const Endpoint endpoint{"127.0.0.1", upstream.port};
    // Two calls at once need two handles; both go back to the pool.
    std::thread other([&] { proxy.forward(endpoint, ProxyRequest{"GET", "/slow", {}, {}}); });
    CHECK(proxy.forward(endpoint, ProxyRequest{"GET", "/slow", {}, {}}).outcome ==
          ProxyOutcome::kOk);
    other.join();
    CHECK(proxy.idle_handles() == 2);
    std::this_thread::sleep_for(100ms);  // the lifetime itself is what is tested
    // The next release frees the cold one; the handle just used stays.
    CHECK(proxy.forward(endpoint, ProxyRequest{"GET", "/", {}, {}}).outcome == ProxyOutcome::kOk);
    CHECK(proxy.idle_handles() == 1);
}

TEST_CASE("replicas are dialled directly, whatever http_proxy says") {
    Upstream upstream;
    Proxy proxy(ProxyOptions{});
    const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(faas::test::free_port());
    ::setenv("http_proxy", dead_proxy.c_str(), 1);
    auto result =
        proxy.forward(Endpoint{"127.0.0.1", upstream.port}, ProxyRequest{"GET", "/", {}, {}});
    ::unsetenv("http_proxy");
    CHECK(result.outcome == ProxyOutcome::kOk);
}

TEST_CASE("a 302 stays a 302 and response headers come back") {
    Upstream upstream;
    Proxy proxy(ProxyOptions{});
    ProxyRequest request{"GET", "/redirect", {}, {}};
    auto result = proxy.forward(Endpoint{"127.0.0.1", upstream.port}, request);
    REQUIRE(result.outcome == ProxyOutcome::kOk);
    CHECK(result.status == 302);
    bool has_location = false;
    for (auto& [name, value] : result.headers)
        if (name == "Location" && value == "/elsewhere") has_location = true;
    CHECK(has_location);
}

TEST_CASE("refused, timed out and oversized outcomes") {
    Proxy proxy(ProxyOptions{300ms, 200ms, 1024});
    int closed_port = faas::test::free_port();
    ProxyRequest get{"GET", "/", {}, {}};
    CHECK(proxy.forward(Endpoint{"127.0.0.1", closed_port}, get).outcome == ProxyOutcome::kRefused);

    Upstream upstream;
    ProxyRequest slow{"GET", "/slow", {}, {}};
    auto started = std::chrono::steady_clock::now();
    CHECK(proxy.forward(Endpoint{"127.0.0.1", upstream.port}, slow).outcome ==
          ProxyOutcome::kTimeout);
    CHECK(std::chrono::steady_clock::now() - started < 650ms);

    ProxyRequest big{"GET", "/big", {}, {}};
    CHECK(proxy.forward(Endpoint{"127.0.0.1", upstream.port}, big).outcome ==
          ProxyOutcome::kTooLarge);
}

TEST_CASE("hop-by-hop headers") {
    CHECK(is_hop_by_hop("connection"));
    CHECK(is_hop_by_hop("Transfer-Encoding"));
    CHECK(is_hop_by_hop("Keep-Alive"));
    CHECK_FALSE(is_hop_by_hop("X-Call-Id"));
    CHECK_FALSE(is_hop_by_hop("Content-Type"));
}

TEST_CASE("the watchdog's port announcement is parsed only from its own line") {
    CHECK(announced_port("2026/11/21 10:30:51 Listening on port: 34567") == 34567);
    CHECK(announced_port("Listening on port: 80") == 80);
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 stderr: Listening on port: 1"));
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 Listening on port: 99999"));
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 Metrics listening on port: 8081"));
}
