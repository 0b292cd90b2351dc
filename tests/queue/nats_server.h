// A real nats-server with JetStream for integration tests: its own loopback port and store
// directory, stopped and restarted by the test, and killed with it.
#pragma once

#include <memory>
#include <string>

#include "support/process.h"

namespace faas::test {

/// nats-server's path from PATH; "" when it is not installed.
std::string find_nats_server();

class NatsServer {
  public:
    /// Starts `nats-server -js` on a free loopback port (or `port`) with its store in
    /// `store_dir`. Fails the test, never skips it, when nats-server is missing or does not
    /// say it is ready within 10 s.
    explicit NatsServer(std::string store_dir, int port = 0);
    ~NatsServer();
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;

    int port() const { return port_; }
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

    /// SIGTERM (or `signal`), then waits for the exit (10 s at most, then SIGKILL).
    void stop(int signal = 15);
    /// Starts it again on the same port and store.
    void start();

  private:
    std::string store_dir_;
    int port_;
    std::unique_ptr<TestProcess> process_;
};

}  // namespace faas::test
