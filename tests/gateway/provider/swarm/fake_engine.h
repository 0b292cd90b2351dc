// A fake Docker Engine API on a unix socket, for the Swarm provider's and the Docker builder's
// tests: it answers from a handler (or streams an answer the test writes chunk by chunk) and
// records what it was asked. one_function() is a small Swarm with one function.
#pragma once

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "provider/swarm/swarm_provider.h"

namespace faas::test {

using faas::gateway::SwarmProviderOptions;
using namespace std::chrono_literals;

struct FakeRequest {
    std::string method;
    std::string target;
    std::string body;
    std::string headers;  ///< The header lines as sent, each ending in "\r\n".
};

/// A streamed answer (chunked transfer encoding) that a StreamHandler writes as it likes.
class FakeStream {
  public:
    explicit FakeStream(int client) : client_(client) {}

    /// Sends the status line and headers; at most once, before write().
    bool begin(int status) {
        begun_ = true;
        return send_all("HTTP/1.1 " + std::to_string(status) +
                        " X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n");
    }
    /// Sends `data` as one chunk at once; false once the client has gone.
    bool write(std::string_view data) {
        if (data.empty()) return ok_;
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        return send_all(size) && send_all(std::string(data) + "\r\n");
    }
    /// Waits up to `wait` for the client to close its end of the connection.
    bool client_closed(std::chrono::milliseconds wait) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        char buffer[4096];
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd pfd{client_, POLLIN, 0};
            if (::poll(&pfd, 1, 10) <= 0) continue;
            if (::read(client_, buffer, sizeof buffer) <= 0) return true;
        }
        return false;
    }
    /// Ends the body (the handler returned).
    void finish() {
        if (begun_ && ok_) send_all("0\r\n\r\n");
    }

  private:
    bool send_all(const std::string& data) {
        if (!ok_) return false;
        ok_ = ::send(client_, data.data(), data.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(data.size());
        return ok_;
    }

    int client_;
    bool begun_ = false;
    bool ok_ = true;
};

/// A one-connection-at-a-time HTTP/1.1 server on a unix socket, answering from `handler`.
class FakeEngine {
  public:
    using Handler = std::function<std::pair<int, std::string>(const FakeRequest&)>;
    /// Answers a request by streaming and returns true, or returns false to leave it to the
    /// Handler.
    using StreamHandler = std::function<bool(const FakeRequest&, FakeStream&)>;

    explicit FakeEngine(Handler handler, StreamHandler streamer = nullptr)
        : handler_(std::move(handler)), streamer_(std::move(streamer)) {
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
            if (cl != std::string::npos && cl < header_end)
                length = std::stoul(data.substr(cl + 16));
            if (data.size() >= header_end + 4 + length) break;
        }
        if (header_end == std::string::npos) return;
        FakeRequest request;
        auto line_end = data.find("\r\n");
        auto first_space = data.find(' ');
        auto second_space = data.find(' ', first_space + 1);
        request.method = data.substr(0, first_space);
        request.target = data.substr(first_space + 1, second_space - first_space - 1);
        request.headers = data.substr(line_end + 2, header_end + 2 - (line_end + 2));
        request.body = data.substr(header_end + 4);
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
        }
        // A slow engine: hold the answer (in small steps, so stop() stays prompt).
        for (int waited = 0; waited < delay_ms.load() && running_; waited += 10)
            std::this_thread::sleep_for(10ms);
        if (streamer_) {
            FakeStream stream(client);
            if (streamer_(request, stream)) {
                stream.finish();
                return;
            }
        }
        auto [status, body] = handler_(request);
        std::string response = "HTTP/1.1 " + std::to_string(status) +
                               " X\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
    }

    Handler handler_;
    StreamHandler streamer_;
    std::string dir_;
    std::string path_;
    int fd_ = -1;
    std::atomic<bool> running_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<FakeRequest> requests_;
};

// One function "echo" (service s1) with two running tasks on network "fn".
inline std::pair<int, std::string> one_function(const FakeRequest& request) {
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
    if (request.target.find("/services/create") != std::string::npos)
        return {201, R"({"ID":"s2"})"};
    return {404, R"({"message":"no such thing"})"};
}

inline SwarmProviderOptions options_for(const std::string& socket) {
    SwarmProviderOptions options;
    options.docker.socket_path = socket;
    options.docker.timeout = 500ms;
    options.docker.connect_timeout = 500ms;
    options.refresh_interval = 100ms;
    options.min_refresh_gap = 20ms;
    return options;
}

}  // namespace faas::test
