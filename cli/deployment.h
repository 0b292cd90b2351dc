// From a stack file's function (and deploy's flags) to the FunctionDeployment JSON the gateway
// takes: pure functions, so the mapping is tested without a gateway.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "args.h"
#include "stack_file.h"

namespace faas::cli {

/// What deploy's flags add to or change in a function, as faas-cli does: maps are merged (the
/// flag wins), secrets added, constraints replaced when any is given, the rest replaced.
struct DeployOverrides {
    std::map<std::string, std::string> environment;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::vector<std::string> secrets;
    std::vector<std::string> constraints;
    std::optional<std::string> fprocess;
    std::optional<std::string> namespace_;
    std::optional<bool> readonly_root_filesystem;
    std::optional<std::string> memory_limit, cpu_limit, memory_request, cpu_request;
};

/// "KEY=VALUE" split at the first '='; a UsageError naming `flag` when there is no '=' or no key.
std::pair<std::string, std::string> split_key_value(std::string_view word, std::string_view flag);

/// Reads -e, -l, --annotation, --secret, --constraint, --fprocess, -n, --readonly and the limits.
DeployOverrides deploy_overrides(const ParsedArgs& args);

/// `fn` with `overrides` applied.
FunctionSpec apply_overrides(FunctionSpec fn, const DeployOverrides& overrides);

/// The deployment document for `fn`, with `environment` (merged_environment plus the flags') as
/// envVars. Empty fields are left out, so the gateway's status shows exactly what was set.
nlohmann::json deployment_json(const FunctionSpec& fn,
                               const std::map<std::string, std::string>& environment);

/// Do two image references name the same image? "x" and "docker.io/library/x:latest" do: a
/// gateway may report the normalised form of what was deployed.
bool same_image(std::string_view deployed, std::string_view reported);

}  // namespace faas::cli
