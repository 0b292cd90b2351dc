// A local replica's directory and environment.
#include "provider/local/replica_setup.h"

#include <filesystem>

#include "log.h"

namespace faas::gateway {

namespace fs = std::filesystem;

std::string fprocess_of(const FunctionDeployment& deployment) {
    if (!deployment.env_process.empty()) return deployment.env_process;
    auto it = deployment.env_vars.find("fprocess");
    return it == deployment.env_vars.end() ? std::string() : it->second;
}

void prepare_replica_dir(const std::string& dir, const std::string& replica_id,
                         const FunctionDeployment& deployment, const StateStore& store) {
    fs::create_directories(fs::path(dir) / "tmp");
    fs::create_directories(fs::path(dir) / "secrets");
    for (const auto& secret : deployment.secrets) {
        auto value = store.read_secret(secret);
        if (!value) {
            log_line("Replica " + replica_id + ": secret " + secret + " is missing");
            continue;
        }
        write_file_atomically((fs::path(dir) / "secrets" / secret).string(), *value, 0400);
    }
}

std::map<std::string, std::string> replica_environment(
    const std::map<std::string, std::string>& base, const FunctionDeployment& deployment,
    const std::string& dir) {
    auto env = base;
    for (const auto& [key, value] : deployment.env_vars) env[key] = value;
    env["fprocess"] = fprocess_of(deployment);
    // The gateway owns the ports (learnt from the watchdog's log line) and takes a replica out
    // of rotation itself before stopping it, so the watchdog need not linger unhealthy.
    env["port"] = "0";
    env["metrics_port"] = "0";
    env["healthcheck_interval"] = "0";
    // Loopback only: a replica reachable from outside could be called past the gateway's
    // auth, limits and metrics.
    env["bind_address"] = "127.0.0.1";
    // Each replica its own TMPDIR: the watchdog's lock file lives there.
    env["TMPDIR"] = (fs::path(dir) / "tmp").string();
    env["secret_mount_path"] = (fs::path(dir) / "secrets").string() + "/";
    return env;
}

}  // namespace faas::gateway
