// What a local replica starts with: its own directory (tmp/ for the watchdog's lock file,
// secrets/ copied from the state directory) and its environment (ports the kernel picks, on
// loopback only). Kept apart from the supervisor, which decides when replicas start.
#pragma once

#include <map>
#include <string>

#include "function_types.h"
#include "provider/local/local_images.h"
#include "provider/local/replica_process.h"
#include "provider/local/state_store.h"

namespace faas::gateway {

/// The command a replica runs: envProcess, else envVars.fprocess, else the built image's
/// fprocess; empty when none is set.
std::string fprocess_of(const FunctionDeployment& deployment, const LocalImage* image = nullptr);

/// The folder of a replica in `dir` that holds its secrets.
std::string secrets_dir_of(const std::string& dir);

/// Creates `dir`/tmp and `dir`/secrets and copies the deployment's secrets into the latter
/// (mode 0400); a secret missing from the store is logged and skipped. Throws
/// std::filesystem::filesystem_error, ProviderUnavailable.
void prepare_replica_dir(const std::string& dir, const std::string& replica_id,
                         const FunctionDeployment& deployment, const StateStore& store);

/// Where a replica in `dir` runs (a built image's folder, else the gateway's) and where it
/// sees its secrets: at kFunctionSecretsPath when `mount_secrets`, else in its own folder.
ReplicaFiles replica_files(const std::string& dir, const LocalImage* image, bool mount_secrets);

/// The environment of a replica in `dir` placed as `files` says: `base` (PATH and friends), the
/// built image's environment (as a container's ENV), the deployment's envVars, and the settings
/// the gateway owns (secret_mount_path among them). An http-mode replica of a built image gets a
/// loopback port of its own for its upstream (http_port, upstream_url), as replicas share the
/// host's ports.
std::map<std::string, std::string> replica_environment(
    const std::map<std::string, std::string>& base, const FunctionDeployment& deployment,
    const std::string& dir, const ReplicaFiles& files, const LocalImage* image = nullptr);

/// A loopback TCP port free now (the kernel's pick). Throws std::system_error.
int free_loopback_port();

}  // namespace faas::gateway
