// An HTTP server on 127.0.0.1 that keeps every callback POSTed to /done: what a queue worker
// sends to X-Callback-Url, for the asynchronous call tests. Header-only: include it where
// cpp-httplib is linked.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/wait.h"

namespace faas::test {

class CallbackServer {
  public:
    struct Received {
        std::string body;
        httplib::Headers headers;

        std::string header(const std::string& name) const {
            auto it = headers.find(name);
            return it == headers.end() ? "" : it->second;
        }
    };

    CallbackServer() {
        server_.Post("/done", [this](const httplib::Request& request, httplib::Response&) {
            std::lock_guard lock(mutex_);
            received_.push_back(Received{request.body, request.headers});
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        REQUIRE(wait_until([this] { return server_.is_running(); }, std::chrono::seconds(5)));
    }
    ~CallbackServer() {
        server_.stop();
        thread_.join();
    }
    CallbackServer(const CallbackServer&) = delete;
    CallbackServer& operator=(const CallbackServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/done"; }
    std::vector<Received> received() {
        std::lock_guard lock(mutex_);
        return received_;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<Received> received_;
};

}  // namespace faas::test
