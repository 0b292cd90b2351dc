// The Swarm provider against a fake Engine API on a unix socket: what it asks Docker, and how
// it behaves when dockerd is down, slow, or comes back. The real engine is in tests/e2e.
#include "provider/swarm_provider.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/wait.h"

using namespace faas::gateway;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct FakeRequest {
    std::string method;
    std::string target;
    std::string body;
};

/// A one-connection-at-a-time HTTP/1.1 server on a unix socket, answering from `handler`.
class FakeEngine {
public:
    using Handler = std::function<std::pair<int, std::string>(const FakeRequest&)>;

    explicit FakeEngine(Handler handler) : handler_(std::move(handler)) {
        char dir[] = "/tmp/fake-engine-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        dir_ = dir;
        path_ = dir_ + "/docker.sock";
        start();
    }
    ~FakeEngine() {
        stop();
        ::rmdir(dir_.c_str());
    }

    void start() {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
        ::unlink(path_.c_str());
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        running_ = true;
        thread_ = std::thread([this] { serve(); });
    }
    /// Closes the socket: the engine is "down".
    void stop() {
        if (!running_) return;
        running_ = false;
        thread_.join();
        ::close(fd_);
        ::unlink(path_.c_str());
    }

    const std::string& path() const { return path_; }
    std::vector<FakeRequest> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::atomic<int> delay_ms{0};

private:
    void serve() {
        while (running_) {
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 50) <= 0) continue;
            int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            handle(client);
            ::close(client);
        }
    }

    void handle(int client) {
        std::string data;
        char buffer[8192];
        std::size_t header_end = std::string::npos;
        auto deadline = std::chrono::steady_clock::now() + 2s;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd pfd{client, POLLIN, 0};
            if (::poll(&pfd, 1, 50) <= 0) continue;
            ssize_t n = ::read(client, buffer, sizeof buffer);
            if (n <= 0) return;
            data.append(buffer, static_cast<std::size_t>(n));
            header_end = data.find("\r\n\r\n");
            if (header_end == std::string::npos) continue;
            std::size_t length = 0;
            auto cl = data.find("Content-Length: ");
            if (cl != std::string::npos && cl < header_end) length = std::stoul(data.substr(cl + 16));
            if (data.size() >= header_end + 4 + length) break;
        }
        if (header_end == std::string::npos) return;
        FakeRequest request;
        auto line_end = data.find("\r\n");
        auto first_space = data.find(' ');
        auto second_space = data.find(' ', first_space + 1);
        request.method = data.substr(0, first_space);
        request.target = data.substr(first_space + 1, second_space - first_space - 1);
        (void)line_end;
        request.body = data.substr(header_end + 4);
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
        }
        // A slow engine: hold the answer (in small steps, so stop() stays prompt).
        for (int waited = 0; waited < delay_ms.load() && running_; waited += 10)
            std::this_thread::sleep_for(10ms);
        auto [status, body] = handler_(request);
        std::string response = "HTTP/1.1 " + std::to_string(status) +
                               " X\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
    }

    Handler handler_;
    std::string dir_;
    std::string path_;
    int fd_ = -1;
    std::atomic<bool> running_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<FakeRequest> requests_;
};

// One function "echo" (service s1) with two running tasks on network "fn".
std::pair<int, std::string> one_function(const FakeRequest& request) {
    if (request.target == "/v1.41/services")  // unfiltered: the stack's gateway too
        return {200, R"([{"ID":"s1","Spec":{"Name":"echo","Labels":{"function":"true"}}},
            {"ID":"g1","Spec":{"Name":"func_gateway","Labels":{"com.docker.stack.namespace":"func"}}}])"};
    if (request.target.find("/services?") != std::string::npos)
        return {200, R"([{"ID":"s1","CreatedAt":"2026-01-01T00:00:00Z","Spec":{"Name":"echo",
            "Labels":{"function":"true","com.openfaas.function":"echo"},
            "TaskTemplate":{"ContainerSpec":{"Image":"faas/echoit:latest","Env":["fprocess=cat"]}},
            "Mode":{"Replicated":{"Replicas":2}}}}])"};
    if (request.target.find("/tasks?") != std::string::npos)
        return {200, R"([
            {"ServiceID":"s1","DesiredState":"running","Status":{"State":"running"},
             "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.3/24"]}]},
            {"ServiceID":"s1","DesiredState":"running","Status":{"State":"running"},
             "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.2/24"]}]},
            {"ServiceID":"s1","DesiredState":"running","Status":{"State":"starting"},
             "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.4/24"]}]}])"};
    if (request.target.find("/networks") != std::string::npos)
        return {200, R"([{"Id":"fn","Name":"func_functions","Driver":"overlay"}])"};
    if (request.target.find("/secrets?") != std::string::npos)
        return {200, R"([{"ID":"sec1","Spec":{"Name":"api-key","Labels":{"openfaas":"true"}}}])"};
    if (request.target.find("/services/create") != std::string::npos) return {201, R"({"ID":"s2"})"};
    return {404, R"({"message":"no such thing"})"};
}

std::string percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

SwarmProviderOptions options_for(const std::string& socket) {
    SwarmProviderOptions options;
    options.docker.socket_path = socket;
    options.docker.timeout = 500ms;
    options.docker.connect_timeout = 500ms;
    options.refresh_interval = 100ms;
    options.min_refresh_gap = 20ms;
    return options;
}

}  // namespace

TEST_CASE("list and get map services and healthy running tasks") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    auto functions = provider.list();
    REQUIRE(functions.size() == 1);
    CHECK(functions[0].deployment.service == "echo");
    CHECK(functions[0].deployment.env_process == "cat");
    CHECK(functions[0].replicas == 2);
    CHECK(functions[0].available_replicas == 2);  // the "starting" task is not healthy yet
    CHECK(functions[0].created_at == "2026-01-01T00:00:00Z");
    CHECK(provider.get("echo").has_value());
    CHECK_FALSE(provider.get("nope").has_value());
    bool versioned = true;
    std::optional<json> service_filters;
    for (const auto& request : engine.requests()) {
        versioned = versioned && request.target.rfind("/v1.41/", 0) == 0;
        auto at = request.target.find("/services?filters=");
        if (at != std::string::npos)
            service_filters = json::parse(percent_decode(request.target.substr(at + 18)));
    }
    CHECK(versioned);
    REQUIRE(service_filters);
    // Docker wants every filter as a list of values.
    CHECK(*service_filters == json({{"label", json::array({"function=true"})}}));
    CHECK(provider.info().provider == "faas-swarm");
}

TEST_CASE("resolve serves cached task IPs and keeps them while dockerd is down") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 2; }, 5s));
    auto ready = provider.resolve("echo").ready;
    CHECK(ready[0].host == "10.0.1.2");
    CHECK(ready[1].host == "10.0.1.3");
    CHECK(ready[0].port == 8080);
    CHECK_FALSE(provider.resolve("unknown").exists);

    engine.stop();
    // Admin calls fail fast with a clear error; the hot path answers from the cache, at once.
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(provider.list(), DockerUnavailable);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    for (int i = 0; i < 20; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto resolution = provider.resolve("echo");
        CHECK(std::chrono::steady_clock::now() - t0 < 50ms);
        CHECK(resolution.ready.size() == 2);
        std::this_thread::sleep_for(20ms);  // spans several failed refreshes
    }

    engine.start();
    REQUIRE(faas::test::wait_until([&] { return provider.list().size() == 1; }, 5s));
}

TEST_CASE("a slow engine makes admin calls fail within the deadline") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 2; }, 5s));
    engine.delay_ms = 3000;
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(provider.list(), DockerUnavailable);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(provider.resolve("echo").ready.size() == 2);
    engine.delay_ms = 0;
}

TEST_CASE("deploy posts a spec on the labelled network with secret IDs") {
    FakeEngine engine(one_function);
    SwarmProvider provider(options_for(engine.path()));
    provider.deploy(parse_deployment(
        R"({"service":"fresh","image":"faas/catservice","secrets":["api-key"]})", "openfaas-fn"));
    std::optional<json> spec;
    for (const auto& request : engine.requests())
        if (request.method == "POST" && request.target == "/v1.41/services/create")
            spec = json::parse(request.body);
    REQUIRE(spec);
    CHECK((*spec)["Name"] == "fresh");
    CHECK((*spec)["TaskTemplate"]["Networks"][0]["Target"] == "fn");
    CHECK((*spec)["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] == "sec1");
    // Known at once, though not ready: 503 rather than 404 while its tasks start.
    auto resolution = provider.resolve("fresh");
    CHECK(resolution.exists);

    CHECK_THROWS_AS(provider.deploy(parse_deployment(R"({"service":"echo","image":"x"})", "openfaas-fn")),
                    AlreadyExists);
    CHECK_THROWS_AS(provider.deploy(parse_deployment(
                        R"({"service":"other","image":"x","secrets":["missing"]})", "openfaas-fn")),
                    NotFound);
    // "gateway" is the stack gateway's DNS alias on the functions network.
    CHECK_THROWS_AS(provider.deploy(parse_deployment(R"({"service":"gateway","image":"x"})", "openfaas-fn")),
                    AlreadyExists);
    CHECK_THROWS_AS(provider.scale("nope", 1), NotFound);
    CHECK_THROWS_AS(provider.remove("nope"), NotFound);
}

TEST_CASE("a missing socket is a clear unavailable error and resolve never blocks") {
    SwarmProvider provider(options_for("/nonexistent/docker.sock"));
    try {
        provider.list();
        FAIL("list() should throw");
    } catch (const DockerUnavailable& e) {
        CHECK(std::string(e.what()).find("/nonexistent/docker.sock") != std::string::npos);
    }
    CHECK_FALSE(provider.resolve("echo").exists);
}
