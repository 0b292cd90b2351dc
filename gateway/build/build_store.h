// What the build manager keeps on disk under <state_dir>/builds, so builds and versions
// survive a restart: one JSON record per build (records/), its log as newline-delimited JSON
// (logs/), its context while it waits or runs (contexts/), and each function's deployed
// versions, newest last (versions/).
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "build/builder.h"

namespace faas::gateway {

const char* stage_name(BuildStage stage);
std::optional<BuildStage> stage_from_name(std::string_view name);
/// Ready, failed or cancelled.
bool is_finished(BuildStage stage);

struct StageTiming {
    BuildStage stage = BuildStage::kQueued;
    std::string started_at;  ///< RFC 3339 with nanoseconds.
    double seconds = -1;     ///< -1 while the stage runs.
};

struct BuildRecord {
    std::string id;
    std::string function;
    std::string lang;
    std::string version;
    std::string image;   ///< Empty until built.
    std::string source;  ///< "json" or "archive".
    std::string created_at;
    std::string finished_at;
    std::string error;  ///< Why it failed, in one line.
    BuildStage status = BuildStage::kQueued;
    std::vector<StageTiming> stages;
    nlohmann::json deployment = nlohmann::json::object();  ///< As sent; image set on deploy.
    std::map<std::string, std::string> build_args;
};

/// The API's view of a build (also what is persisted).
nlohmann::json to_json(const BuildRecord& record, const std::string& served_namespace);
/// Throws std::exception on a record that does not read back.
BuildRecord record_from_json(const nlohmann::json& json);

/// One deployed version of a function, enough to deploy it again.
struct FunctionVersion {
    std::string version;
    std::string image;
    std::string build_id;
    std::string deployed_at;
    nlohmann::json deployment = nlohmann::json::object();
};

struct VersionHistory {
    int next = 1;  ///< The number of the next build's version.
    /// Oldest first; the last one is what the function runs (until someone deploys by hand).
    std::vector<FunctionVersion> versions;
};

class BuildStore {
  public:
    /// Creates the folders. Throws ProviderUnavailable when `root` cannot be used.
    explicit BuildStore(std::filesystem::path root);

    std::filesystem::path context_dir(const std::string& id) const;
    std::filesystem::path log_path(const std::string& id) const;

    /// Throws ProviderUnavailable.
    void save(const BuildRecord& record) const;
    /// Every record that reads back (others are logged and skipped), oldest first.
    std::vector<BuildRecord> load_all() const;
    /// The record, its log and its context; never throws.
    void remove(const std::string& id) const noexcept;
    /// Removes the context folder; never throws.
    void remove_context(const std::string& id) const noexcept;

    VersionHistory versions(const std::string& function) const;
    /// Throws ProviderUnavailable.
    void save_versions(const std::string& function, const VersionHistory& history) const;

  private:
    std::filesystem::path root_;
};

}  // namespace faas::gateway
