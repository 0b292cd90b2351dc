// A stand-in gateway for the CLI's unit tests: an httplib server with the test's routes on a
// free loopback port, stopped and joined when the test ends.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/wait.h"

namespace faas::test {

class FakeGateway {
  public:
    explicit FakeGateway(const std::function<void(httplib::Server&)>& routes) {
        routes(server_);
        // Bound before the thread starts: connections wait in the backlog until it accepts.
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() before the accept loop runs is lost and join() would wait for ever: a test that
        // sends nothing ends at once, so wait until it runs.
        if (!wait_until([this] { return server_.is_running(); }, std::chrono::seconds(5)))
            throw std::runtime_error("the fake gateway did not start listening");
    }
    ~FakeGateway() {
        server_.stop();
        thread_.join();
    }
    FakeGateway(const FakeGateway&) = delete;
    FakeGateway& operator=(const FakeGateway&) = delete;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

}  // namespace faas::test
