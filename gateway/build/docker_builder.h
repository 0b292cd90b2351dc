// Builds from source on a Swarm with the Docker Engine API: the context as a tar to POST /build,
// its streamed output into the build's log, then a push to the configured registry so that every
// node can pull the image.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build/builder.h"
#include "provider/swarm/docker_client.h"

namespace faas::gateway {

struct DockerBuilderOptions {
    DockerClientOptions docker;
    /// build_registry ("127.0.0.1:5000"): images are tagged <registry>/<function>:<version> and
    /// pushed there. Empty: no push, which only works on a single-node Swarm.
    std::string registry;
    /// The WATCHDOG_IMAGE build argument the templates' Dockerfiles take, unless the build sets
    /// its own.
    std::string watchdog_image = "faas/watchdog:latest";
    /// How long check() trusts the Swarm's node count.
    std::chrono::milliseconds node_check_cache{10000};
    /// Backstop for one /build or push stream; the build manager's build_timeout, seen through
    /// stop_requested(), is the limit that matters.
    std::chrono::milliseconds max_duration{std::chrono::hours(2)};
};

/// The Engine API's progress stream (newline-delimited JSON from /build and /images/.../push,
/// split across chunks anywhere) back to log lines: "stream" text line by line, "status"
/// only when it changes for a layer, and the first "error" kept for the caller.
class EngineOutputReader {
  public:
    /// A message or a line of text longer than this without a line end is cut.
    static constexpr std::size_t kMaxLine = 1u << 20;

    /// The complete log lines in `chunk` (no line ends, no empty lines).
    std::vector<std::string> feed(std::string_view chunk);
    /// The end of the stream: what a last message that did not end its line still holds.
    std::vector<std::string> finish();
    /// The first {"error": ...} as one line.
    const std::optional<std::string>& error() const { return error_; }

  private:
    void take_message(std::string_view json, std::vector<std::string>& lines);
    void take_text(std::string_view text, std::vector<std::string>& lines);
    void flush_text(std::vector<std::string>& lines);

    std::string message_;  // an unfinished JSON line
    bool skipping_message_ = false;
    std::string text_;  // an unfinished line of "stream" text
    bool skipping_text_ = false;
    std::map<std::string, std::string> layer_status_;
    std::optional<std::string> error_;
};

class DockerBuilder final : public Builder {
  public:
    explicit DockerBuilder(DockerBuilderOptions options);

    /// Refuses (BadRequest) a Swarm of several nodes without a registry. Throws
    /// ProviderUnavailable when the engine cannot say how many nodes it has. `lang` is the
    /// caller's to check.
    void check(const std::string& lang) const override;
    /// POST /build with the context, then a push when a registry is set. Returns
    /// "[<registry>/]<function>:<version>".
    std::string build(const BuildJob& job, BuildProgress& progress) override;
    /// Removes the local image; one a running task still uses stays, which is fine.
    void forget(const std::string& image) noexcept override;

  private:
    int node_count() const;
    void push(const BuildJob& job, BuildProgress& progress);
    /// Streams one POST into `progress`. Returns the stream's {"error"} text, if any; throws
    /// BuildStopped, or BuildFailed("<failure>: <reason>") when the engine refuses (non-2xx) or
    /// cannot be reached.
    std::optional<std::string> run(const std::string& path, const std::string& body,
                                   const std::vector<std::string>& headers, BuildProgress& progress,
                                   const std::string& failure);

    DockerBuilderOptions options_;
    DockerClient docker_;
    mutable std::mutex nodes_mutex_;
    mutable std::optional<int> nodes_;
    mutable std::chrono::steady_clock::time_point nodes_at_;
};

}  // namespace faas::gateway
