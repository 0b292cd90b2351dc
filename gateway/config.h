// The gateway's settings, read once at start-up from the environment (OpenFaaS's names where
// they exist) so that a bad value stops the program with one clear line before it listens.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "env.h"

namespace faas::gateway {

enum class ProviderKind { kLocal, kSwarm };
enum class BalancingPolicy { kRoundRobin, kLeastInflight };

struct Config {
    int port = 8080;
    std::chrono::nanoseconds read_timeout = std::chrono::seconds(60);
    std::chrono::nanoseconds write_timeout = std::chrono::seconds(60);
    /// Deadline for one function call, connect to last byte; past it the client gets 504.
    std::chrono::nanoseconds upstream_timeout = std::chrono::seconds(60);
    bool basic_auth = false;
    std::string secret_mount_path = "/run/secrets/";
    std::string function_namespace = "openfaas-fn";
    ProviderKind provider = ProviderKind::kLocal;
    BalancingPolicy balancing = BalancingPolicy::kRoundRobin;
    std::uint64_t max_request_bytes = 32ULL << 20;
    std::uint64_t max_response_bytes = 64ULL << 20;
    /// Request bodies and function responses buffered at once, all calls together: past it a
    /// call is answered 503 rather than the gateway growing without bound.
    std::uint64_t max_buffered_bytes = 256ULL << 20;
    /// Worker threads for the admin API and log streams; function calls need none.
    int threads = 320;
    /// Deployments (local provider), builds and versions.
    std::string state_dir = "/var/lib/faas";
    // Builds from source.
    bool builds = true;
    std::string templates_dir;   ///< Resolved at start-up when not set.
    std::string build_registry;  ///< Swarm: where built images are pushed; empty: none.
    int max_builds = 2;
    std::chrono::nanoseconds build_timeout = std::chrono::minutes(10);
    std::uint64_t max_build_context_bytes = 20ULL << 20;
    std::uint64_t max_build_unpacked_bytes = 256ULL << 20;
    std::uint64_t max_build_files = 10000;
    int kept_versions = 5;
    // Elasticity (gateway/autoscale/).
    /// A call to a function with no ready replica is held while the function starts, instead
    /// of answered 503 at once.
    bool scale_from_zero = true;
    /// How long a call may be held; then 504.
    std::chrono::nanoseconds scale_from_zero_timeout = std::chrono::seconds(30);
    /// Calls held at once per function, and their request bytes for all functions together;
    /// past either a call is answered 429.
    std::uint64_t max_held_calls = 1000;
    std::uint64_t max_held_bytes = 64ULL << 20;
    /// The built-in autoscaler and scale to zero (by label); the interval between decisions.
    bool autoscale = true;
    std::chrono::nanoseconds autoscale_interval = std::chrono::seconds(1);
    // Asynchronous calls (gateway/async/).
    bool async_calls = true;
    /// NATS with JetStream; empty: the local provider starts nats-server itself (and a queue
    /// worker) when it is installed.
    std::string nats_url;
    /// Request bodies of asynchronous calls at most; larger is 413. A stored call is its body
    /// plus a head (headers, path, query: up to about 170 KiB), and NATS refuses a message over
    /// its max_payload (1 MiB by default): raise both together.
    std::uint64_t max_async_bytes = 768ULL << 10;
    std::chrono::nanoseconds call_record_ttl = std::chrono::hours(24);
    /// record_calls=all: synchronous calls are recorded too (off the call path), the newest
    /// sync_records_kept of them.
    bool record_sync_calls = false;
    std::int64_t sync_records_kept = 10000;
    /// Local provider without nats_url: the programs it starts; empty when not found.
    std::string nats_server_path;
    std::string queue_worker_path;
    // Local provider.
    std::string watchdog_path;  ///< Resolved to an executable file at start-up.
    int max_replicas = 64;      ///< Per function: a scale request above it is refused.
    // Swarm provider.
    std::string docker_socket = "/var/run/docker.sock";
    std::string functions_network;  ///< Empty: the first network labelled openfaas=true.
    std::chrono::nanoseconds docker_timeout = std::chrono::seconds(5);
};

/// Reads and validates every setting. `self_path` is the gateway binary (for the default
/// watchdog_path beside it). Throws faas::ConfigError naming the variable.
Config read_config(const Env& env, const std::string& self_path = {});

}  // namespace faas::gateway
