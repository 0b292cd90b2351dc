// The local provider's files under state_dir: one JSON file per deployment (functions/), one
// file per secret (secrets/, mode 0700), and run/ for the replicas' own directories. Files are
// replaced atomically, so a crash leaves the old content or the new, never half of one.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "function_types.h"

namespace faas::gateway {

/// A deployment as persisted: what was sent, the replicas wanted, when it was created.
struct StoredFunction {
    FunctionDeployment deployment;
    int replicas = 0;
    std::string created_at;
};

class StateStore {
  public:
    /// Creates the directories and empties run/ (its replicas are gone with the last run).
    /// Throws ProviderUnavailable when state_dir cannot be used.
    StateStore(const std::string& state_dir, std::string function_namespace);

    /// Where replicas get their directories.
    const std::string& run_dir() const { return run_dir_; }

    /// Every deployment that reads back valid (others are logged and skipped); replicas are
    /// clamped to 0..max_replicas.
    std::vector<StoredFunction> load_functions(int max_replicas) const;
    /// Throws ProviderUnavailable.
    void save_function(const StoredFunction& function) const;
    /// Throws ProviderUnavailable.
    void remove_function(const std::string& name) const;

    /// Valid secret names, sorted.
    std::vector<std::string> secret_names() const;
    std::optional<std::string> read_secret(const std::string& name) const;
    /// Throws AlreadyExists ("secret X already exists"), ProviderUnavailable.
    void create_secret(const std::string& name, const std::string& value) const;
    /// Throws NotFound ("secret X not found"), ProviderUnavailable.
    void update_secret(const std::string& name, const std::string& value) const;
    /// Throws NotFound ("secret X not found"), ProviderUnavailable.
    void remove_secret(const std::string& name) const;

  private:
    const std::string function_namespace_;
    std::string functions_dir_;
    std::string secrets_dir_;
    std::string run_dir_;
    // Makes "exists, then write" one step for secrets; deployments are serialised by the
    // provider's own lock.
    mutable std::mutex secrets_mutex_;
};

/// Writes `content` to a temporary file beside `path` and renames it over `path`. Throws
/// ProviderUnavailable.
void write_file_atomically(const std::string& path, const std::string& content, mode_t mode);

}  // namespace faas::gateway
