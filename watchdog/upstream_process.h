// http mode's long-lived fprocess: started once (Boost.Process, in its own process group),
// probed until it accepts connections, and restarted with backoff whenever it dies.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config.h"

namespace faas::watchdog {

class UpstreamProcess {
  public:
    UpstreamProcess(const Config& config, std::vector<std::string> base_env);
    ~UpstreamProcess();
    UpstreamProcess(const UpstreamProcess&) = delete;
    UpstreamProcess& operator=(const UpstreamProcess&) = delete;

    /// Starts the supervisor thread (and with it the process).
    void start();
    /// Terminates the process group (SIGTERM, then SIGKILL after a grace) and stops supervising.
    void stop();
    /// True while the process runs and has accepted a connection on the upstream address.
    bool ready() const { return ready_.load(); }
    /// How many times the process has been started.
    int starts() const { return starts_.load(); }

  private:
    void supervise();
    bool wait_or_stop(std::chrono::milliseconds delay);

    const Config& config_;
    std::vector<std::string> base_env_;
    std::atomic<bool> ready_{false};
    std::atomic<int> starts_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

/// True when a TCP connection to host:port succeeds within `timeout`.
bool can_connect(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace faas::watchdog
