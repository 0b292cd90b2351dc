// The seam between the build manager (queue, state, logs, deploy) and what turns a build
// context into something a provider runs: the local builder (a folder per version, the
// template's local install step) and the Docker builder (the Engine API's /build, then a push).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace faas::gateway {

/// The stages of a build, in order; a build ends in one of the last three.
enum class BuildStage { kQueued, kBuilding, kPushing, kDeploying, kReady, kFailed, kCancelled };

/// A build failed for a reason worth one line to the user ("python3 is not installed on the
/// gateway's host", "npm install exited with status 1").
class BuildFailed : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The build was cancelled (DELETE) or ran out of time while a builder worked: the builder
/// stops its child processes and throws this.
class BuildStopped : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// What a builder gets. The context is already checked: a folder holding the template's files
/// with the handler folder filled in (the layout `faas build --shrinkwrap` writes).
struct BuildJob {
    std::string id;
    std::string function;  ///< A valid function name (DNS label).
    std::string version;   ///< "v1", "v2", ... one more than the function's last build.
    std::filesystem::path context_dir;
    std::string lang;  ///< template.yml's language (also the template's folder name).
    /// Docker build arguments (ADDITIONAL_PACKAGE, TEST_ENABLED=false, ...).
    std::map<std::string, std::string> build_args;
};

/// Where a builder reports while it works. Thread-safe; cheap to call.
class BuildProgress {
  public:
    /// One line of the build's output (a line end is not included).
    virtual void line(std::string_view text) = 0;
    /// The build moves on to `stage` (kPushing, when a builder pushes).
    virtual void enter(BuildStage stage) = 0;
    /// True once the build must stop (cancelled, or past build_timeout): a builder polls it
    /// at least every 200 ms while it waits and then throws BuildStopped.
    virtual bool stop_requested() const = 0;

  protected:
    ~BuildProgress() = default;
};

class Builder {
  public:
    virtual ~Builder() = default;
    /// Fast checks made before a build is accepted (a missing runtime for `lang`, a Swarm of
    /// several nodes without a registry): throws BadRequest with the reason.
    virtual void check(const std::string& lang) const = 0;
    /// Builds `job` and returns the image reference to deploy ("hello:v3" locally,
    /// "127.0.0.1:5000/hello:v3" with a registry). Throws BuildFailed or BuildStopped.
    virtual std::string build(const BuildJob& job, BuildProgress& progress) = 0;
    /// An image no kept version uses any more: free what it holds (a local folder). Must not
    /// throw.
    virtual void forget(const std::string& image) noexcept = 0;
};

}  // namespace faas::gateway
