// JSON mapping of the admin API's documents.
#include "function_types.h"

#include "base64.h"
#include "names.h"

namespace faas::gateway {
namespace {

using nlohmann::json;

}  // namespace

json parse_json_object(const std::string& body) {
    // nlohmann parses deep nesting without recursion, but copying or dumping the document does
    // recurse (a deployment's raw object is copied into its status and dumped to disk): 100k
    // levels of '[' overflowed the stack. Nothing in these documents goes this deep.
    bool too_deep = false;
    json::parser_callback_t limit_depth = [&too_deep](int depth, json::parse_event_t event, json&) {
        if ((event == json::parse_event_t::object_start ||
             event == json::parse_event_t::array_start) &&
            depth >= kMaxJsonDepth) {
            too_deep = true;
            return false;  // skipped, not built
        }
        return true;
    };
    if (body.find_first_not_of(" \t\r\n") == std::string::npos)
        throw BadRequest("empty request body: expected a JSON object");
    auto parsed = json::parse(body, limit_depth, /*allow_exceptions=*/false);
    if (too_deep)
        throw BadRequest("JSON in request body is nested deeper than " +
                         std::to_string(kMaxJsonDepth) + " levels");
    if (parsed.is_discarded()) throw BadRequest("malformed JSON in request body");
    if (!parsed.is_object()) throw BadRequest("request body must be a JSON object");
    return parsed;
}

namespace {

std::optional<std::string> optional_string(const json& object, const char* field) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw BadRequest(std::string("'") + field + "' must be a string");
    return it->get<std::string>();
}

std::map<std::string, std::string> string_map(const json& object, const char* field) {
    std::map<std::string, std::string> out;
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return out;
    if (!it->is_object())
        throw BadRequest(std::string("'") + field + "' must be an object of strings");
    for (const auto& [key, value] : it->items()) {
        if (!value.is_string())
            throw BadRequest(std::string("'") + field + "." + key + "' must be a string");
        out.emplace(key, value.get<std::string>());
    }
    return out;
}

void check_namespace(const json& object, const std::string& served_namespace) {
    auto ns = optional_string(object, "namespace");
    if (ns && !ns->empty() && *ns != served_namespace)
        throw NotFound("namespace '" + *ns + "' is not served here (only '" + served_namespace +
                       "')");
}

}  // namespace

FunctionDeployment deployment_from_json(const json& raw, const std::string& served_namespace) {
    if (!raw.is_object()) throw BadRequest("request body must be a JSON object");
    FunctionDeployment deployment;
    auto service = optional_string(raw, "service");
    if (!service || service->empty()) throw BadRequest("'service' is required");
    if (!is_valid_name(*service))
        throw BadRequest("'service' must be a DNS label (a-z, 0-9, '-', 1 to 63 characters)");
    auto image = optional_string(raw, "image");
    if (!image || image->empty()) throw BadRequest("'image' is required");
    check_namespace(raw, served_namespace);
    deployment.service = *service;
    deployment.image = *image;
    deployment.env_process = optional_string(raw, "envProcess").value_or("");
    deployment.env_vars = string_map(raw, "envVars");
    deployment.labels = string_map(raw, "labels");
    string_map(raw, "annotations");  // validated only
    if (auto it = raw.find("secrets"); it != raw.end() && !it->is_null()) {
        if (!it->is_array()) throw BadRequest("'secrets' must be an array of names");
        for (const auto& secret : *it) {
            if (!secret.is_string() || !is_valid_secret_name(secret.get<std::string>()))
                throw BadRequest("'secrets' must hold valid secret names");
            deployment.secrets.push_back(secret.get<std::string>());
        }
    }
    if (auto it = raw.find("constraints"); it != raw.end() && !it->is_null() && !it->is_array())
        throw BadRequest("'constraints' must be an array of strings");
    for (const char* field : {"limits", "requests"})
        if (auto it = raw.find(field); it != raw.end() && !it->is_null() && !it->is_object())
            throw BadRequest(std::string("'") + field + "' must be an object");
    if (auto it = raw.find("readOnlyRootFilesystem");
        it != raw.end() && !it->is_null() && !it->is_boolean())
        throw BadRequest("'readOnlyRootFilesystem' must be a boolean");
    deployment.raw = raw;
    return deployment;
}

FunctionDeployment parse_deployment(const std::string& body, const std::string& served_namespace) {
    return deployment_from_json(parse_json_object(body), served_namespace);
}

json status_json(const FunctionRecord& record, const std::string& served_namespace,
                 double invocation_count) {
    json status = record.deployment.raw;
    status.erase("registryAuth");
    status.erase("service");
    status["name"] = record.deployment.service;
    status["namespace"] = served_namespace;
    status["replicas"] = record.replicas;
    status["availableReplicas"] = record.available_replicas;
    status["invocationCount"] = invocation_count;
    status["createdAt"] = record.created_at;
    if (!record.reason.empty()) status["reason"] = record.reason;
    return status;
}

ScaleRequest parse_scale_request(const std::string& body) {
    auto object = parse_json_object(body);
    ScaleRequest request;
    request.service_name = optional_string(object, "serviceName").value_or("");
    auto replicas = object.find("replicas");
    if (replicas == object.end() || !replicas->is_number_integer())
        throw BadRequest("'replicas' is required and must be an integer");
    auto value = replicas->get<std::int64_t>();
    if (value < 0 || value > 1'000'000) throw BadRequest("'replicas' must be 0 or more");
    request.replicas = static_cast<int>(value);
    return request;
}

std::string parse_delete_request(const std::string& body, const std::string& served_namespace) {
    auto object = parse_json_object(body);
    auto name = optional_string(object, "functionName");
    if (!name || name->empty()) throw BadRequest("'functionName' is required");
    if (!is_valid_name(*name)) throw BadRequest("'functionName' is not a valid function name");
    check_namespace(object, served_namespace);
    return *name;
}

SecretRequest parse_secret_request(const std::string& body, const std::string& served_namespace,
                                   bool value_required) {
    auto object = parse_json_object(body);
    SecretRequest request;
    request.name = optional_string(object, "name").value_or("");
    if (request.name.empty()) throw BadRequest("'name' is required");
    if (!is_valid_secret_name(request.name))
        throw BadRequest("'name' must be a-z, 0-9, '-', '_', '.', 1 to 63 characters");
    check_namespace(object, served_namespace);
    if (auto raw = optional_string(object, "rawValue"); raw && !raw->empty()) {
        auto decoded = faas::base64_decode(*raw);
        if (!decoded) throw BadRequest("'rawValue' is not valid base64");
        request.value = std::move(*decoded);
    } else if (auto value = optional_string(object, "value")) {
        request.value = std::move(*value);
    }
    if (value_required && !request.value) throw BadRequest("'value' or 'rawValue' is required");
    return request;
}

}  // namespace faas::gateway
