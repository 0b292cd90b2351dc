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

#include "function_types.h"

namespace faas::gateway {

/// The function (or secret) does not exist: 404.
class NotFound : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};
/// It exists already: 409.
class AlreadyExists : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};
/// The request is valid JSON but this provider cannot carry it out as asked: 400.
class Unsupported : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};
/// The backing system (Docker, the file system) failed: 502/500 and a message.
class ProviderUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A replica ready to take requests.
struct Endpoint {
    std::string host;
    int port = 0;
};

/// What the hot path asks: does the function exist, and where are its ready replicas.
struct Resolution {
    bool exists = false;
    std::vector<Endpoint> ready;
};

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

class FunctionProvider {
  public:
    virtual ~FunctionProvider() = default;

    virtual ProviderInfo info() const = 0;
    virtual std::vector<FunctionRecord> list() = 0;
    virtual std::optional<FunctionRecord> get(const std::string& name) = 0;
    /// Throws AlreadyExists, NotFound (a named secret), Unsupported, ProviderUnavailable.
    virtual void deploy(const FunctionDeployment& deployment) = 0;
    /// Replaces a deployment (rolling). Throws NotFound.
    virtual void update(const FunctionDeployment& deployment) = 0;
    /// Throws NotFound.
    virtual void scale(const std::string& name, int replicas) = 0;
    /// Throws NotFound.
    virtual void remove(const std::string& name) = 0;
    /// The hot path: must be cheap and must not block on I/O.
    virtual Resolution resolve(const std::string& name) = 0;
    /// Throws NotFound when the function does not exist.
    virtual std::unique_ptr<LogStream> logs(const LogQuery& query) = 0;

    /// Secret names only: values never leave the provider.
    virtual std::vector<std::string> list_secrets() = 0;
    virtual void create_secret(const std::string& name, const std::string& value) = 0;
    virtual void update_secret(const std::string& name, const std::string& value) = 0;
    virtual void remove_secret(const std::string& name) = 0;

    /// Stops everything the provider started (local replicas); idempotent.
    virtual void shutdown() = 0;
};

}  // namespace faas::gateway
