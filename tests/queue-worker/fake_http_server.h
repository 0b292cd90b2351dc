// An httplib server for the queue worker's tests (the gateway's stand-in, a callback
// receiver): the test's routes on a free loopback port, every request it got kept in order,
// stopped and joined when the test ends.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace faas::test {

class FakeHttpServer {
  public:
    /// What a request carried, and when it came.
    struct Seen {
        std::string method;
        std::string target;  ///< Path and query as sent.
        httplib::Headers headers;
        std::string body;
        std::chrono::steady_clock::time_point at;

        std::string header(const std::string& name) const {
            auto it = headers.find(name);  // httplib compares names without case.
            return it == headers.end() ? "" : it->second;
        }
    };
    /// Answers the `n`th request (1 for the first).
    using Handler = std::function<void(const httplib::Request&, httplib::Response&, int n)>;

    explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
        auto serve = [this](const httplib::Request& request, httplib::Response& response) {
            int n = 0;
            {
                std::lock_guard lock(mutex_);
                seen_.push_back(Seen{request.method, request.target, request.headers, request.body,
                                     std::chrono::steady_clock::now()});
                n = static_cast<int>(seen_.size());
            }
            handler_(request, response, n);
        };
        server_.Get(".*", serve);
        server_.Post(".*", serve);
        server_.Put(".*", serve);
        server_.Patch(".*", serve);
        server_.Delete(".*", serve);
        // Bound before the thread starts: connections wait in the backlog until it accepts.
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~FakeHttpServer() {
        server_.stop();
        thread_.join();
    }
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return seen_.size();
    }

  private:
    Handler handler_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<Seen> seen_;  ///< Guarded by mutex_.
};

}  // namespace faas::test
