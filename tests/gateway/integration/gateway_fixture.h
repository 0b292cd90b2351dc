// Runs the real gateway binary with the local provider and real fwatchdog replicas, on a free
// loopback port with a private state directory, for integration tests.
#pragma once

#include <httplib.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/process.h"

namespace faas::test {

using GatewayEnv = std::map<std::string, std::string>;

class GatewayFixture {
  public:
    /// Starts a gateway with `extra_env` and waits for /healthz. `state_dir` may be shared
    /// between two fixtures to test persistence.
    explicit GatewayFixture(std::map<std::string, std::string> extra_env = {},
                            std::string state_dir = {});

    int port() const { return port_; }
    TestProcess& process() { return *process_; }
    const std::string& state_dir() const { return state_dir_; }
    httplib::Client client(std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) const;

    /// POST /system/functions; returns the status code.
    int deploy(const nlohmann::json& deployment);
    /// Deploys {service, image, envProcess} (+ extra fields) and waits until `replicas` are ready.
    void deploy_ready(const std::string& name, const std::string& fprocess, int replicas = 1,
                      nlohmann::json extra = nlohmann::json::object());
    /// GET /system/function/<name> as JSON (null when not 200).
    nlohmann::json status(const std::string& name);
    /// Waits until availableReplicas == replicas == `count`.
    bool wait_available(const std::string& name, int count,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));
    /// fwatchdog processes under the gateway.
    std::vector<pid_t> replica_pids();
    /// The /metrics text.
    std::string metrics();

    /// Asks the gateway to stop (SIGTERM) and returns its exit code.
    std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

    std::map<std::string, std::string> headers;  ///< Sent with admin calls (e.g. Authorization).

  private:
    std::unique_ptr<TempDir> own_state_;
    std::string state_dir_;
    int port_ = 0;
    std::unique_ptr<TestProcess> process_;
};

/// Writes an executable shell script and returns its path.
std::string write_script(const TempDir& dir, const std::string& name, const std::string& body);

}  // namespace faas::test
