// A local replica's directory and environment.
#include "provider/local/replica_setup.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "log.h"
#include "provider/local/secret_mounts.h"

namespace faas::gateway {

namespace fs = std::filesystem;

std::string fprocess_of(const FunctionDeployment& deployment, const LocalImage* image) {
    if (!deployment.env_process.empty()) return deployment.env_process;
    auto it = deployment.env_vars.find("fprocess");
    if (it != deployment.env_vars.end()) return it->second;
    return image != nullptr ? image->fprocess : std::string();
}

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::system_error(error, std::generic_category(), "bind");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

std::string secrets_dir_of(const std::string& dir) {
    return (fs::path(dir) / "secrets").string();
}

void prepare_replica_dir(const std::string& dir, const std::string& replica_id,
                         const FunctionDeployment& deployment, const StateStore& store) {
    fs::create_directories(fs::path(dir) / "tmp");
    fs::create_directories(secrets_dir_of(dir));
    for (const auto& secret : deployment.secrets) {
        auto value = store.read_secret(secret);
        if (!value) {
            log_line("Replica " + replica_id + ": secret " + secret + " is missing");
            continue;
        }
        write_file_atomically((fs::path(secrets_dir_of(dir)) / secret).string(), *value, 0400);
    }
}

ReplicaFiles replica_files(const std::string& dir, const LocalImage* image, bool mount_secrets) {
    ReplicaFiles files;
    if (image != nullptr) files.working_dir = image->dir.string();
    if (mount_secrets) {
        files.secrets_dir = secrets_dir_of(dir);
        files.secrets_target = kFunctionSecretsPath;
    }
    return files;
}

std::map<std::string, std::string> replica_environment(
    const std::map<std::string, std::string>& base, const FunctionDeployment& deployment,
    const std::string& dir, const ReplicaFiles& files, const LocalImage* image) {
    auto env = base;
    if (image != nullptr)
        for (const auto& [key, value] : image->env) env[key] = value;
    for (const auto& [key, value] : deployment.env_vars) env[key] = value;
    env["fprocess"] = fprocess_of(deployment, image);
    if (image != nullptr && env["mode"] == "http") {
        // The kernel's pick, released for the upstream to take: another process could take
        // it in between, and the replica then fails its health check and is restarted.
        const auto port = std::to_string(free_loopback_port());
        env["http_port"] = port;
        env["upstream_url"] = "http://127.0.0.1:" + port;
    }
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
    env["secret_mount_path"] =
        (files.secrets_target.empty() ? secrets_dir_of(dir) : files.secrets_target) + "/";
    return env;
}

}  // namespace faas::gateway
