// The OpenFaaS JSON documents the admin API speaks (faas-provider's types), mapped to and from
// C++ with nlohmann/json. A deployment keeps the object exactly as sent, so a status echoes
// what was deployed with no injected defaults.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "errors.h"

namespace faas::gateway {

/// Admin API documents nested deeper than this are refused (400) before they are built.
inline constexpr int kMaxJsonDepth = 64;

/// A request body that must be one JSON object, nested no deeper than kMaxJsonDepth. Throws
/// BadRequest (empty, malformed, too deep, not an object).
nlohmann::json parse_json_object(const std::string& body);

/// POST/PUT /system/functions. Typed fields for what the gateway and providers act on; `raw`
/// holds every field as sent, for the status.
struct FunctionDeployment {
    std::string service;
    std::string image;
    std::string env_process;
    std::map<std::string, std::string> env_vars;
    std::map<std::string, std::string> labels;
    std::vector<std::string> secrets;
    nlohmann::json raw = nlohmann::json::object();
};

/// Parses and validates a deployment. `served_namespace`: a `namespace` field, if present,
/// must name it. Throws BadRequest.
FunctionDeployment parse_deployment(const std::string& body, const std::string& served_namespace);

/// Rebuilds a deployment from its raw object (persisted state), validating again.
FunctionDeployment deployment_from_json(const nlohmann::json& raw,
                                        const std::string& served_namespace);

/// What a provider knows about a deployed function.
struct FunctionRecord {
    FunctionDeployment deployment;
    int replicas = 0;            ///< Desired.
    int available_replicas = 0;  ///< Ready to serve.
    std::string created_at;      ///< RFC 3339.
    /// An update is rolling out: some replicas still run the previous deployment.
    bool rolling = false;
    /// Why fewer replicas are available than wanted, when the provider knows (an image that
    /// cannot be pulled, no node that fits): one line, in the status as "reason".
    std::string reason = {};
};

/// FunctionStatus JSON: the deployment as sent plus name, namespace, replicas,
/// availableReplicas, invocationCount and createdAt. `registryAuth` is a credential and is
/// never echoed.
nlohmann::json status_json(const FunctionRecord& record, const std::string& served_namespace,
                           double invocation_count);

/// {"serviceName","replicas","namespace"}.
struct ScaleRequest {
    std::string service_name;
    int replicas = 0;
};
ScaleRequest parse_scale_request(const std::string& body);

/// DELETE /system/functions body {"functionName","namespace"}: the name.
std::string parse_delete_request(const std::string& body, const std::string& served_namespace);

/// {"name","namespace","value","rawValue"}: rawValue (base64) wins over value.
struct SecretRequest {
    std::string name;
    std::optional<std::string> value;  ///< Absent for DELETE.
};
SecretRequest parse_secret_request(const std::string& body, const std::string& served_namespace,
                                   bool value_required);

}  // namespace faas::gateway
