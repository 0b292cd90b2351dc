// Builds from source, from request to running function: checks a request and queues it
// (202 at once), runs up to max_builds at a time (one at a time per function, in order),
// streams each build's log, deploys the result with a rolling update, keeps the last few
// versions for a rollback, and marks a build the gateway was running when it stopped as failed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "build/build_request.h"
#include "build/build_store.h"
#include "build/builder.h"
#include "provider/function_provider.h"

namespace faas::gateway {

struct BuildManagerOptions {
    std::string served_namespace = "openfaas-fn";
    std::filesystem::path templates_dir;
    BuildRequestLimits limits;
    int max_builds = 2;  ///< Builds running at once; others wait in the queue.
    std::chrono::nanoseconds build_timeout = std::chrono::minutes(10);
    /// How long a deployed build may take to have a ready replica of the new version.
    std::chrono::nanoseconds ready_timeout = std::chrono::minutes(2);
    int kept_versions = 5;          ///< Per function, for rollbacks.
    std::size_t kept_builds = 500;  ///< Finished build records kept, all functions together.
    int max_replicas = 64;
    std::size_t max_log_bytes = 4u << 20;  ///< A build's log beyond this is cut (and says so).
};

/// One line of a build's log, as the logs API sends it (a JSON object and "\n").
using BuildLogLines = std::vector<std::string>;

/// Reads one build's log from the start; with follow, until the build ends.
class BuildLogCursor {
  public:
    virtual ~BuildLogCursor() = default;
    /// The next lines, waiting up to `wait` for some. Empty: nothing new yet. nullopt: the log
    /// is complete and every line was returned.
    virtual std::optional<BuildLogLines> next(std::chrono::milliseconds wait) = 0;
};

class BuildManager {
  public:
    /// Loads the records in `store`: a build that was running is marked failed, a queued one
    /// is queued again. Starts the workers.
    BuildManager(BuildManagerOptions options, BuildStore& store, Builder& builder,
                 FunctionProvider& provider);
    ~BuildManager();
    BuildManager(const BuildManager&) = delete;
    BuildManager& operator=(const BuildManager&) = delete;

    /// Checks the request (lang, the builder's own checks, the deployment), lays out its
    /// context and queues it. Throws BadRequest, NotFound (a secret), PayloadTooLarge,
    /// ProviderUnavailable.
    BuildRecord submit(BuildRequest request);
    std::optional<BuildRecord> get(const std::string& id) const;
    const BuildRequestLimits& limits() const { return options_.limits; }
    /// Newest first; `function` empty: every function.
    std::vector<BuildRecord> list(const std::string& function, std::size_t limit) const;
    /// Cancels a queued or running build. Throws NotFound, AlreadyExists (409) once it is
    /// deploying or over.
    BuildRecord cancel(const std::string& id);
    /// Throws NotFound.
    std::unique_ptr<BuildLogCursor> logs(const std::string& id);
    /// Deploys the version before the current one again and, once that one is ready (up to
    /// ready_timeout), forgets the current one. Throws
    /// NotFound (no builds of it, or the function is gone), BadRequest (no earlier version).
    FunctionVersion rollback(const std::string& function);
    /// Stops the workers: builds still running are stopped and marked failed. Idempotent.
    void stop();

    struct LiveLog;  // a build's log while it is being written

  private:
    struct Running;
    class Progress;

    void work();
    void run(const std::string& id);
    /// Deploys `image` for the build and waits until a replica of it is ready.
    void deploy(const BuildRecord& record);
    void wait_until_ready(const BuildRecord& record, Progress& progress);
    bool stopping() const;
    void remember_version(const BuildRecord& record);
    /// Moves a build to `stage`, timing the stage it leaves; persists the record.
    void enter_locked(BuildRecord& record, BuildStage stage);
    void finish(const std::string& id, BuildStage stage, const std::string& error);
    void trim_records_locked();

    const BuildManagerOptions options_;
    BuildStore& store_;
    Builder& builder_;
    FunctionProvider& provider_;

    mutable std::mutex mutex_;
    std::condition_variable work_ready_;
    std::map<std::string, BuildRecord> records_;
    std::deque<std::string> queue_;
    std::set<std::string> busy_functions_;
    std::map<std::string, std::shared_ptr<Running>> running_;
    std::map<std::string, std::shared_ptr<LiveLog>> live_logs_;
    bool stopping_ = false;
    /// Deploys and rollbacks one at a time, so versions and the provider never disagree.
    std::mutex deploy_mutex_;
    std::vector<std::thread> workers_;
};

}  // namespace faas::gateway
