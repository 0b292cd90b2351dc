// The pure half of the Swarm provider: an OpenFaaS FunctionDeployment to a Docker Swarm
// ServiceSpec and back, resource quantities, and task lists to endpoints. No I/O, so all of it
// is unit tested.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "function_types.h"

namespace faas::gateway::swarm {

// Labels that mark a service as a function (faas-swarm's, plus the classic `function=true`).
inline constexpr const char* kFunctionLabel = "function";
inline constexpr const char* kFunctionNameLabel = "com.openfaas.function";
inline constexpr const char* kLegacyNameLabel = "faas_function";
inline constexpr const char* kAnnotationPrefix = "com.openfaas.annotations.";
/// The deployment exactly as sent (minus registryAuth), so a status echoes it.
inline constexpr const char* kDeploymentLabel = "com.faas.deployment";
/// On a function's service while its tasks are paused (task_pause.h); not a function label.
inline constexpr const char* kPausedLabel = "com.faas.paused";
/// Secrets this gateway manages carry openfaas=true, as faas-swarm's do.
inline constexpr const char* kSecretLabel = "openfaas";
inline constexpr const char* kSecretsMountPath = "/var/openfaas/secrets/";
inline constexpr int kWatchdogPort = 8080;

/// Memory as Docker and Kubernetes write it: "134217728", "128m", "128MB", "5Mi", "1.5g",
/// "512k". k/m/g/t (any case, optional "b") and Ki/Mi/Gi/Ti are powers of 1024, as in
/// Docker's RAMInBytes. nullopt when not a positive quantity.
std::optional<std::int64_t> parse_memory_bytes(std::string_view text);
/// CPUs: "0.5", "2", or Kubernetes millicores "100m"; in nano-CPUs. nullopt when invalid.
std::optional<std::int64_t> parse_nano_cpus(std::string_view text);

/// What the spec needs beyond the deployment.
struct SpecContext {
    std::string network_id;  ///< Empty: no network attachment.
    int replicas = 1;
    std::map<std::string, std::string> secret_ids;  ///< name -> Swarm secret ID.
};

/// The ServiceSpec for a deployment. Throws BadRequest on limits it cannot express.
nlohmann::json service_spec(const FunctionDeployment& deployment, const SpecContext& context);

/// The function name of a service (label com.openfaas.function, else faas_function, else the
/// service name when it carries function=true); nullopt for services that are not functions.
std::optional<std::string> function_name_of(const nlohmann::json& service);

/// The deployment behind a service: the stored document when present and valid, otherwise
/// rebuilt from the spec (services created by `docker stack deploy`).
FunctionDeployment deployment_of(const nlohmann::json& service, const std::string& function_name,
                                 const std::string& served_namespace);

/// Desired replicas of a replicated service (0 for global services).
int desired_replicas(const nlohmann::json& service);

/// A task is ready when Swarm runs it and wants it running; with a health check Swarm reports
/// "running" only once the check has passed, so this also means healthy.
bool task_ready(const nlohmann::json& task);

/// A task Swarm wants running that has not passed its first health check yet: Swarm holds it
/// in "starting" until then, and it already has its network addresses.
bool task_starting(const nlohmann::json& task);

/// The address of a task on `network_id` (or on its first network when empty or absent).
std::optional<std::string> task_address(const nlohmann::json& task, const std::string& network_id);

}  // namespace faas::gateway::swarm
