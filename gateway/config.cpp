// Reading the gateway's settings from the environment.
#include "config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

#include "names.h"
#include "settings.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;

bool is_executable_file(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// Finds fwatchdog: an explicit setting must exist; otherwise beside the gateway, then PATH.
// A program named by `variable`, else beside the gateway, else on PATH, else in sbin; empty
// when none is.
// An explicit setting that is not an executable file is an error.
std::string find_program(const Env& env, const std::string& variable, const std::string& program,
                         const std::string& self_path) {
    if (auto explicit_path = env.get(variable); explicit_path && !explicit_path->empty()) {
        if (!is_executable_file(*explicit_path))
            throw ConfigError(variable, "'" + *explicit_path + "' is not an executable file");
        return fs::absolute(*explicit_path).string();
    }
    if (!self_path.empty()) {
        auto beside = fs::path(self_path).parent_path() / program;
        if (is_executable_file(beside)) return fs::absolute(beside).string();
    }
    std::stringstream path_list(get_string(env, "PATH", ""));
    std::string dir;
    while (std::getline(path_list, dir, ':')) {
        if (dir.empty()) continue;
        auto candidate = fs::path(dir) / program;
        if (is_executable_file(candidate)) return candidate.string();
    }
    // Debian puts daemons (nats-server) in sbin, which a non-root PATH lacks.
    for (const char* sbin : {"/usr/local/sbin", "/usr/sbin"}) {
        auto candidate = fs::path(sbin) / program;
        if (is_executable_file(candidate)) return candidate.string();
    }
    return {};
}

std::string resolve_watchdog(const Env& env, const std::string& self_path) {
    auto path = find_program(env, "watchdog_path", "fwatchdog", self_path);
    if (path.empty())
        throw ConfigError("watchdog_path",
                          "fwatchdog not found beside the gateway nor on PATH; set watchdog_path");
    return path;
}

std::chrono::nanoseconds positive_duration(const Env& env, const std::string& name,
                                           std::chrono::nanoseconds fallback) {
    auto value = get_duration(env, name, fallback);
    if (value.count() <= 0) throw ConfigError(name, "must be greater than zero");
    return value;
}

// The project's templates: an explicit setting must be a folder; otherwise installed beside
// the gateway (<prefix>/share/faas/templates), then the source tree of an uninstalled build.
std::string resolve_templates(const Env& env, const std::string& self_path) {
    std::error_code ec;
    if (auto explicit_dir = env.get("templates_dir"); explicit_dir && !explicit_dir->empty()) {
        if (!fs::is_directory(*explicit_dir, ec))
            throw ConfigError("templates_dir", "'" + *explicit_dir + "' is not a folder");
        return fs::absolute(*explicit_dir).string();
    }
    std::vector<fs::path> candidates;
    if (!self_path.empty())
        candidates.push_back(fs::path(self_path).parent_path().parent_path() / "share" / "faas" /
                             "templates");
    candidates.emplace_back("/usr/share/faas/templates");
#ifdef FAAS_SOURCE_TEMPLATES
    candidates.emplace_back(FAAS_SOURCE_TEMPLATES);
#endif
    for (const auto& candidate : candidates)
        if (fs::is_directory(candidate, ec)) return candidate.string();
    return {};  // builds answer that no template is installed
}

void read_build_settings(const Env& env, const std::string& self_path, Config& config) {
    config.builds = get_bool(env, "builds", config.builds);
    if (!config.builds) return;
    config.templates_dir = resolve_templates(env, self_path);
    config.build_registry = get_string(env, "build_registry", "");
    if (config.build_registry.find_first_of(" \t/") != std::string::npos)
        throw ConfigError("build_registry", "must be host[:port], e.g. 127.0.0.1:5000");
    config.max_builds = static_cast<int>(get_int(env, "max_builds", config.max_builds, 1, 64));
    config.build_timeout = positive_duration(env, "build_timeout", config.build_timeout);
    // Unset, it follows a smaller max_request_bytes down: a build is a request.
    config.max_build_context_bytes =
        get_byte_size(env, "max_build_context_bytes",
                      std::min(config.max_build_context_bytes, config.max_request_bytes));
    if (config.max_build_context_bytes == 0 ||
        config.max_build_context_bytes > config.max_request_bytes)
        throw ConfigError("max_build_context_bytes",
                          "must be > 0 and at most max_request_bytes (a build is a request)");
    config.max_build_unpacked_bytes =
        get_byte_size(env, "max_build_unpacked_bytes", config.max_build_unpacked_bytes);
    if (config.max_build_unpacked_bytes == 0)
        throw ConfigError("max_build_unpacked_bytes", "must be > 0");
    config.max_build_files = static_cast<std::uint64_t>(get_int(
        env, "max_build_files", static_cast<std::int64_t>(config.max_build_files), 1, 1'000'000));
    config.kept_versions =
        static_cast<int>(get_int(env, "kept_versions", config.kept_versions, 2, 100));
}

void read_elasticity_settings(const Env& env, Config& config) {
    config.scale_from_zero = get_bool(env, "scale_from_zero", config.scale_from_zero);
    config.scale_from_zero_timeout =
        positive_duration(env, "scale_from_zero_timeout", config.scale_from_zero_timeout);
    config.max_held_calls = static_cast<std::uint64_t>(get_int(
        env, "max_held_calls", static_cast<std::int64_t>(config.max_held_calls), 1, 1'000'000));
    // Unset, it follows a smaller max_buffered_bytes down.
    config.max_held_bytes = get_byte_size(
        env, "max_held_bytes", std::min(config.max_held_bytes, config.max_buffered_bytes));
    if (config.max_held_bytes == 0 || config.max_held_bytes > config.max_buffered_bytes)
        throw ConfigError("max_held_bytes",
                          "must be > 0 and at most max_buffered_bytes (held bodies are buffered)");
    config.autoscale = get_bool(env, "autoscale", config.autoscale);
    config.autoscale_interval =
        positive_duration(env, "autoscale_interval", config.autoscale_interval);
    if (config.autoscale_interval < std::chrono::milliseconds(100) ||
        config.autoscale_interval > std::chrono::seconds(10))
        throw ConfigError("autoscale_interval", "must be from 100ms to 10s");
}

void read_async_settings(const Env& env, const std::string& self_path, Config& config) {
    config.async_calls = get_bool(env, "async_calls", config.async_calls);
    config.nats_url = get_string(env, "nats_url", "");
    if (!config.nats_url.empty() && config.nats_url.rfind("nats://", 0) != 0 &&
        config.nats_url.rfind("tls://", 0) != 0)
        throw ConfigError("nats_url", "must start with nats:// or tls://");
    // Unset, it follows a smaller max_request_bytes down: an asynchronous call is a request.
    config.max_async_bytes = get_byte_size(
        env, "max_async_bytes", std::min(config.max_async_bytes, config.max_request_bytes));
    if (config.max_async_bytes == 0 || config.max_async_bytes > config.max_request_bytes)
        throw ConfigError("max_async_bytes", "must be > 0 and at most max_request_bytes");
    config.call_record_ttl = positive_duration(env, "call_record_ttl", config.call_record_ttl);
    auto record_calls = get_string(env, "record_calls", "async");
    if (record_calls == "async" || record_calls.empty()) {
        config.record_sync_calls = false;
    } else if (record_calls == "all") {
        config.record_sync_calls = true;
    } else {
        throw ConfigError("record_calls", "'" + record_calls + "' is not one of: async, all");
    }
    config.sync_records_kept = get_int(env, "sync_records_kept", config.sync_records_kept, 100,
                                       10'000);  // all a listing reads
    // What the local provider starts when nats_url is unset (empty: not installed).
    if (config.async_calls && config.nats_url.empty() && config.provider == ProviderKind::kLocal) {
        config.nats_server_path = find_program(env, "nats_server_path", "nats-server", self_path);
        config.queue_worker_path =
            find_program(env, "queue_worker_path", "queue-worker", self_path);
    }
}

}  // namespace

Config read_config(const Env& env, const std::string& self_path) {
    Config config;
    config.port = get_port(env, "port", config.port);
    config.read_timeout = positive_duration(env, "read_timeout", config.read_timeout);
    config.write_timeout = positive_duration(env, "write_timeout", config.write_timeout);
    config.upstream_timeout = positive_duration(env, "upstream_timeout", config.upstream_timeout);
    config.basic_auth = get_bool(env, "basic_auth", config.basic_auth);
    config.secret_mount_path = get_string(env, "secret_mount_path", config.secret_mount_path);
    if (config.secret_mount_path.empty())
        throw ConfigError("secret_mount_path", "must not be empty");

    config.function_namespace = get_string(env, "function_namespace", config.function_namespace);
    if (!is_valid_name(config.function_namespace))
        throw ConfigError("function_namespace",
                          "'" + config.function_namespace +
                              "' is not a DNS label (a-z, 0-9, '-', 1 to 63 characters)");

    auto provider = get_string(env, "provider", "local");
    if (provider == "local" || provider.empty()) {
        config.provider = ProviderKind::kLocal;
    } else if (provider == "swarm") {
        config.provider = ProviderKind::kSwarm;
    } else {
        throw ConfigError("provider", "'" + provider + "' is not one of: local, swarm");
    }

    auto balancing = get_string(env, "load_balancing", "round_robin");
    if (balancing == "round_robin" || balancing.empty()) {
        config.balancing = BalancingPolicy::kRoundRobin;
    } else if (balancing == "least_inflight") {
        config.balancing = BalancingPolicy::kLeastInflight;
    } else {
        throw ConfigError("load_balancing",
                          "'" + balancing + "' is not one of: round_robin, least_inflight");
    }

    config.max_request_bytes = get_byte_size(env, "max_request_bytes", config.max_request_bytes);
    config.max_response_bytes = get_byte_size(env, "max_response_bytes", config.max_response_bytes);
    if (config.max_request_bytes == 0) throw ConfigError("max_request_bytes", "must be > 0");
    if (config.max_response_bytes == 0) throw ConfigError("max_response_bytes", "must be > 0");
    config.max_buffered_bytes = get_byte_size(env, "max_buffered_bytes", config.max_buffered_bytes);
    if (config.max_buffered_bytes < config.max_request_bytes ||
        config.max_buffered_bytes < config.max_response_bytes)
        throw ConfigError("max_buffered_bytes",
                          "must be at least max_request_bytes and max_response_bytes");
    config.threads = static_cast<int>(get_int(env, "gateway_threads", config.threads, 8, 4096));
    config.max_replicas =
        static_cast<int>(get_int(env, "max_replicas", config.max_replicas, 1, 1024));

    read_elasticity_settings(env, config);
    read_async_settings(env, self_path, config);

    config.state_dir = get_string(env, "state_dir", config.state_dir);
    if (config.state_dir.empty()) throw ConfigError("state_dir", "must not be empty");
    if (config.provider == ProviderKind::kLocal)
        config.watchdog_path = resolve_watchdog(env, self_path);
    read_build_settings(env, self_path, config);
    if (config.provider == ProviderKind::kSwarm) {
        config.docker_socket = get_string(env, "docker_socket", config.docker_socket);
        if (config.docker_socket.empty()) throw ConfigError("docker_socket", "must not be empty");
        config.functions_network = get_string(env, "functions_network", "");
        config.docker_timeout = positive_duration(env, "docker_timeout", config.docker_timeout);
    }
    return config;
}

}  // namespace faas::gateway
