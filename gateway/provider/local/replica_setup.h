// What a local replica starts with: its own directory (tmp/ for the watchdog's lock file,
// secrets/ copied from the state directory) and its environment (ports the kernel picks, on
// loopback only). Kept apart from the supervisor, which decides when replicas start.
#pragma once

#include <map>
#include <string>

#include "function_types.h"
#include "provider/local/state_store.h"

namespace faas::gateway {

/// The command a replica runs: envProcess, else envVars.fprocess; empty when neither is set.
std::string fprocess_of(const FunctionDeployment& deployment);

/// Creates `dir`/tmp and `dir`/secrets and copies the deployment's secrets into the latter
/// (mode 0400); a secret missing from the store is logged and skipped. Throws
/// std::filesystem::filesystem_error, ProviderUnavailable.
void prepare_replica_dir(const std::string& dir, const std::string& replica_id,
                         const FunctionDeployment& deployment, const StateStore& store);

/// The environment of a replica in `dir`: `base` (PATH and friends), the deployment's envVars,
/// and the settings the gateway owns.
std::map<std::string, std::string> replica_environment(
    const std::map<std::string, std::string>& base, const FunctionDeployment& deployment,
    const std::string& dir);

}  // namespace faas::gateway
