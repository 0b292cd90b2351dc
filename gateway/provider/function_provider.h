// The one interface between the gateway and whatever runs functions (local child processes,
// Docker Swarm). Routing, proxying and metrics see only this, so a provider is chosen at
// start-up without touching them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "endpoint.h"
#include "errors.h"
#include "function_types.h"

namespace faas::gateway {

struct LogEntry {
    std::string name;
    std::string instance;
    std::string timestamp;  ///< RFC 3339 with nanoseconds.
    std::string text;
};

struct LogQuery {
    std::string name;
    std::optional<std::string> instance;
    int tail = -1;  ///< Last N lines; -1 = all kept.
    std::optional<std::chrono::system_clock::time_point> since;
    bool follow = false;
};

/// A pull-based stream of log lines, so a handler can write each batch and check its client.
class LogStream {
  public:
    virtual ~LogStream() = default;
    /// The next lines, waiting up to `wait` for some when following. Empty: nothing new yet.
    /// nullopt: the stream has ended (not following and all lines delivered, or shut down).
    virtual std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds wait) = 0;
};

struct ProviderInfo {
    std::string provider;       ///< "faas-local", "faas-swarm".
    std::string orchestration;  ///< "local", "swarm".
};

/// Both implementations answer the same fault with the same exception type and message: the
/// checks they share are in deployment_rules.h, and every type maps to one status (errors.h).
/// Any method that asks the backing system (Docker, the state directory) may also throw
/// ProviderUnavailable (502); resolve() never does.
class FunctionProvider {
  public:
    virtual ~FunctionProvider() = default;

    virtual ProviderInfo info() const = 0;
    /// Sorted by name. A record's labels include `faas_function: <name>` (reported_deployment).
    virtual std::vector<FunctionRecord> list() = 0;
    /// nullopt when the function does not exist.
    virtual std::optional<FunctionRecord> get(const std::string& name) = 0;
    /// Throws BadRequest (check_deployment's scale labels; what this provider cannot run, e.g.
    /// no envProcess locally, limits Swarm cannot express), NotFound ("secret X not found"),
    /// AlreadyExists ("function X already exists"; in Swarm also a non-function service of
    /// that name).
    virtual void deploy(const FunctionDeployment& deployment) = 0;
    /// Replaces a deployment (rolling), keeping its replica count. Throws NotFound ("function X
    /// not found", checked first), then as deploy: BadRequest, NotFound ("secret X not found").
    virtual void update(const FunctionDeployment& deployment) = 0;
    /// Throws BadRequest ("replicas must be from 0 to N", checked first; in Swarm also a
    /// global service), NotFound ("function X not found").
    virtual void scale(const std::string& name, int replicas) = 0;
    /// Throws NotFound ("function X not found").
    virtual void remove(const std::string& name) = 0;
    /// The hot path: must be cheap and must not block on I/O.
    virtual Resolution resolve(const std::string& name) = 0;
    /// Throws NotFound ("function X not found").
    virtual std::unique_ptr<LogStream> logs(const LogQuery& query) = 0;

    /// Secret names only, sorted: values never leave the provider.
    virtual std::vector<std::string> list_secrets() = 0;
    /// Throws AlreadyExists ("secret X already exists").
    virtual void create_secret(const std::string& name, const std::string& value) = 0;
    /// Throws NotFound ("secret X not found"); in Swarm BadRequest while a function mounts it
    /// (Swarm secrets are immutable).
    virtual void update_secret(const std::string& name, const std::string& value) = 0;
    /// Throws NotFound ("secret X not found"); in Swarm BadRequest while a function mounts it.
    virtual void remove_secret(const std::string& name) = 0;

    /// Stops everything the provider started (local replicas); idempotent.
    virtual void shutdown() = 0;
};

}  // namespace faas::gateway
