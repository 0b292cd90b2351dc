// What every end-to-end test needs: where the deployed stack is (from the environment that
// scripts/e2e.sh sets), HTTP helpers for the gateway and Prometheus, and a clear skip when
// there is no stack to test.
#pragma once

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace faas::e2e {

struct Stack {
    std::string gateway_host = "127.0.0.1";
    int gateway_port = 8080;
    std::string user;
    std::string password;
    std::string prometheus_host = "127.0.0.1";
    int prometheus_port = 9090;
    std::string stack_name = "func";
};

/// The stack under test, or nullopt after printing "E2E-SKIPPED: <why>" (CTest then reports
/// the test as skipped). When FAAS_E2E_REQUIRED=1 or CI is set a missing stack fails instead.
std::optional<Stack> stack_or_skip();

/// A client for the gateway; with credentials when `auth`.
httplib::Client gateway(const Stack& stack, bool auth = true);
httplib::Client prometheus(const Stack& stack);

/// POST /function/<name> with `body`; status and body (status 0 on a transport error).
std::pair<int, std::string> invoke(const Stack& stack, const std::string& name,
                                   const std::string& body);

/// GET /system/function/<name> as JSON, or nullopt (404 or error).
std::optional<nlohmann::json> function_status(const Stack& stack, const std::string& name);

/// POST /system/scale-function/<name>; true when accepted.
bool scale(const Stack& stack, const std::string& name, int replicas);

/// Whether the function reports `replicas` wanted and as many available.
bool available(const Stack& stack, const std::string& name, int replicas);

/// Polls `condition` every 250 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Deploys (POST /system/functions) and waits until `replicas` replicas are available and an
/// invocation answers 200. Returns false on timeout.
bool deploy_and_wait(const Stack& stack, const nlohmann::json& deployment, int replicas,
                     std::chrono::milliseconds timeout);
/// DELETE /system/functions and waits until its service is gone from Docker.
void remove_function(const Stack& stack, const std::string& name);

/// A PromQL instant query's result vector (empty on error).
nlohmann::json prometheus_query(const Stack& stack, const std::string& expr);

/// A number worth reporting (durations, error counts): printed, and appended to the file
/// $FAAS_E2E_REPORT when set (scripts/e2e.sh prints it at the end).
void report(const std::string& line);

/// Seconds from `start` until now.
double seconds_since(std::chrono::steady_clock::time_point start);
/// "1.5 s" (`decimals` after the point), for report lines.
std::string seconds_text(double seconds, int decimals = 1);

/// Runs a shell command, returns its exit status and stdout.
std::pair<int, std::string> shell(const std::string& command);

/// `word` quoted for the shell (single quotes).
std::string quote(const std::string& word);

/// The `faas` CLI run in `dir`, with its own credentials file and the stack's gateway; output
/// and errors together, so a failure shows what the CLI said.
class Cli {
  public:
    Cli(const Stack& stack, std::filesystem::path dir);
    /// `faas ARGS` with `input` on its stdin; exit status and output.
    std::pair<int, std::string> operator()(const std::string& args,
                                           const std::string& input = "") const;

  private:
    std::filesystem::path dir_;
    std::string env_;
};

}  // namespace faas::e2e
