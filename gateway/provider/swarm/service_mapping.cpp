// Deployment <-> ServiceSpec mapping, quantities and tasks.
#include "provider/swarm/service_mapping.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace faas::gateway::swarm {
namespace {

using nlohmann::json;

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A non-negative decimal number ("1", "0.5", ".5") followed by a suffix; nullopt if no digits.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
    std::size_t i = 0;
    bool digits = false;
    bool dot = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            digits = true;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!digits || i > 32) return std::nullopt;
    std::string number(text.substr(0, i));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(value)) return std::nullopt;
    return std::make_pair(value, text.substr(i));
}

std::optional<std::int64_t> to_int64(double value) {
    if (!(value >= 1) || value > 9.0e18) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(value));
}

const json* find_path(const json& root, std::initializer_list<const char*> keys) {
    const json* node = &root;
    for (const char* key : keys) {
        if (!node->is_object()) return nullptr;
        auto it = node->find(key);
        if (it == node->end()) return nullptr;
        node = &*it;
    }
    return node;
}

std::string string_at(const json& root, std::initializer_list<const char*> keys) {
    const json* node = find_path(root, keys);
    return node && node->is_string() ? node->get<std::string>() : std::string();
}

std::map<std::string, std::string> string_map_at(const json& root,
                                                 std::initializer_list<const char*> keys) {
    std::map<std::string, std::string> out;
    const json* node = find_path(root, keys);
    if (!node || !node->is_object()) return out;
    for (const auto& [key, value] : node->items())
        if (value.is_string()) out.emplace(key, value.get<std::string>());
    return out;
}

bool is_internal_label(const std::string& key) {
    return key == kFunctionLabel || key == kFunctionNameLabel || key == kLegacyNameLabel ||
           key == kDeploymentLabel || key == kPausedLabel || starts_with(key, kAnnotationPrefix) ||
           starts_with(key, "com.docker.");
}

// The resources object of a limits/requests field, or an empty object when absent.
json resources(const json& raw, const char* field) {
    json out = json::object();
    auto it = raw.find(field);
    if (it == raw.end() || !it->is_object()) return out;
    if (auto memory = it->find("memory"); memory != it->end() && !memory->is_null()) {
        if (!memory->is_string())
            throw BadRequest(std::string("'") + field + ".memory' must be a string");
        if (!memory->get<std::string>().empty()) {
            auto bytes = parse_memory_bytes(memory->get<std::string>());
            if (!bytes)
                throw BadRequest(std::string("'") + field +
                                 ".memory' is not a memory quantity "
                                 "like 128m or 64Mi: '" +
                                 memory->get<std::string>() + "'");
            out["MemoryBytes"] = *bytes;
        }
    }
    if (auto cpu = it->find("cpu"); cpu != it->end() && !cpu->is_null()) {
        if (!cpu->is_string())
            throw BadRequest(std::string("'") + field + ".cpu' must be a string");
        if (!cpu->get<std::string>().empty()) {
            auto nanos = parse_nano_cpus(cpu->get<std::string>());
            if (!nanos)
                throw BadRequest(std::string("'") + field +
                                 ".cpu' is not a CPU quantity like "
                                 "0.5 or 100m: '" +
                                 cpu->get<std::string>() + "'");
            out["NanoCPUs"] = *nanos;
        }
    }
    return out;
}

}  // namespace

std::optional<std::int64_t> parse_memory_bytes(std::string_view text) {
    auto split = split_number(text);
    if (!split) return std::nullopt;
    auto [value, suffix] = *split;
    std::string unit = lower(suffix);
    double multiplier = 0;
    if (unit.empty() || unit == "b") {
        multiplier = 1;
    } else {
        // "ki"/"mi"/... (Kubernetes) or k/m/g/t with an optional "b" (Docker): all 1024-based.
        std::string head = unit.substr(0, 1);
        std::string rest = unit.substr(1);
        if (rest != "" && rest != "b" && rest != "i" && rest != "ib") return std::nullopt;
        if (head == "k")
            multiplier = 1024.0;
        else if (head == "m")
            multiplier = 1024.0 * 1024;
        else if (head == "g")
            multiplier = 1024.0 * 1024 * 1024;
        else if (head == "t")
            multiplier = 1024.0 * 1024 * 1024 * 1024;
        else
            return std::nullopt;
    }
    return to_int64(value * multiplier);
}

std::optional<std::int64_t> parse_nano_cpus(std::string_view text) {
    auto split = split_number(text);
    if (!split) return std::nullopt;
    auto [value, suffix] = *split;
    if (suffix.empty()) return to_int64(value * 1e9);
    if (suffix == "m") return to_int64(value * 1e6);
    return std::nullopt;
}

json service_spec(const FunctionDeployment& deployment, const SpecContext& context) {
    const json& raw = deployment.raw;
    json labels = json::object();
    for (const auto& [key, value] : deployment.labels) labels[key] = value;
    if (auto it = raw.find("annotations"); it != raw.end() && it->is_object())
        for (const auto& [key, value] : it->items())
            if (value.is_string()) labels[kAnnotationPrefix + key] = value;
    labels[kFunctionLabel] = "true";
    labels[kFunctionNameLabel] = deployment.service;
    labels[kLegacyNameLabel] = deployment.service;
    json container_labels = labels;
    json stored = raw;
    stored.erase("registryAuth");
    labels[kDeploymentLabel] = stored.dump();

    json env = json::array();
    if (!deployment.env_process.empty()) env.push_back("fprocess=" + deployment.env_process);
    for (const auto& [key, value] : deployment.env_vars) {
        if (key.empty() || key.find('=') != std::string::npos)
            throw BadRequest("'envVars' has an invalid variable name: '" + key + "'");
        env.push_back(key + "=" + value);
    }

    json container = {
        {"Image", deployment.image},
        {"Labels", container_labels},
        {"Env", env},
        // The watchdog's own probe: exit 0 while its lock file exists and it is not draining.
        // Swarm holds a task in "starting" until it first passes, so ready means healthy.
        {"Healthcheck",
         {{"Test", {"CMD", "fwatchdog", "-run-healthcheck"}},
          {"Interval", 2'000'000'000LL},
          {"Timeout", 2'000'000'000LL},
          {"StartPeriod", 1'000'000'000LL},
          {"Retries", 3}}},
        // Longer than the watchdog's drain (healthcheck_interval) so a stopping replica
        // finishes what it is running before SIGKILL.
        {"StopGracePeriod", 15'000'000'000LL},
    };
    bool read_only = false;
    if (auto it = raw.find("readOnlyRootFilesystem"); it != raw.end() && it->is_boolean())
        read_only = it->get<bool>();
    if (read_only) {
        container["ReadOnly"] = true;
        // The watchdog's lock file and the function's scratch space.
        container["Mounts"] =
            json::array({{{"Type", "tmpfs"}, {"Target", "/tmp"}}});  // tmpfs defaults to mode 1777
    }
    if (!deployment.secrets.empty()) {
        json secrets = json::array();
        for (const auto& name : deployment.secrets) {
            auto id = context.secret_ids.find(name);
            if (id == context.secret_ids.end()) throw NotFound("secret " + name + " not found");
            secrets.push_back({{"File",
                                {{"Name", std::string(kSecretsMountPath) + name},
                                 {"UID", "0"},
                                 {"GID", "0"},
                                 {"Mode", 0444}}},
                               {"SecretID", id->second},
                               {"SecretName", name}});
        }
        container["Secrets"] = secrets;
    }

    json task = {
        {"ContainerSpec", container},
        {"RestartPolicy", {{"Condition", "any"}, {"Delay", 2'000'000'000LL}, {"MaxAttempts", 0}}},
        {"Resources",
         {{"Limits", resources(raw, "limits")}, {"Reservations", resources(raw, "requests")}}},
    };
    json constraints = json::array();
    if (auto it = raw.find("constraints"); it != raw.end() && it->is_array())
        for (const auto& constraint : *it)
            if (constraint.is_string() && !constraint.get<std::string>().empty())
                constraints.push_back(constraint);
    if (!constraints.empty()) task["Placement"] = {{"Constraints", constraints}};
    if (!context.network_id.empty())
        task["Networks"] = json::array({{{"Target", context.network_id}}});

    return {
        {"Name", deployment.service},
        {"Labels", labels},
        {"TaskTemplate", task},
        {"Mode", {{"Replicated", {{"Replicas", context.replicas}}}}},
        // New replica healthy before an old one stops; a failed update rolls back.
        {"UpdateConfig",
         {{"Parallelism", 1},
          {"Order", "start-first"},
          {"FailureAction", "rollback"},
          {"Monitor", 5'000'000'000LL}}},
        {"RollbackConfig", {{"Parallelism", 1}, {"Order", "start-first"}}},
        // Task IPs only: without IPVS a virtual IP would not pass traffic.
        {"EndpointSpec", {{"Mode", "dnsrr"}}},
    };
}

std::optional<std::string> function_name_of(const json& service) {
    auto labels = string_map_at(service, {"Spec", "Labels"});
    auto function = labels.find(kFunctionLabel);
    auto name = labels.find(kFunctionNameLabel);
    if (name != labels.end() && !name->second.empty()) return name->second;
    auto legacy = labels.find(kLegacyNameLabel);
    if (legacy != labels.end() && !legacy->second.empty()) return legacy->second;
    if (function != labels.end() && function->second == "true") {
        auto service_name = string_at(service, {"Spec", "Name"});
        if (!service_name.empty()) return service_name;
    }
    return std::nullopt;
}

FunctionDeployment deployment_of(const json& service, const std::string& function_name,
                                 const std::string& served_namespace) {
    auto labels = string_map_at(service, {"Spec", "Labels"});
    if (auto stored = labels.find(kDeploymentLabel); stored != labels.end()) {
        auto raw = json::parse(stored->second, nullptr, false);
        if (raw.is_object()) {
            try {
                auto deployment = deployment_from_json(raw, served_namespace);
                if (deployment.service == function_name) return deployment;
            } catch (const BadRequest&) {
                // Rebuilt from the spec below.
            }
        }
    }

    // Rebuilt from what the spec says, in the same JSON shape a client would have sent.
    json raw = json::object();
    raw["service"] = function_name;
    std::string image = string_at(service, {"Spec", "TaskTemplate", "ContainerSpec", "Image"});
    // Swarm pins "name:tag@sha256:..."; clients deployed "name:tag".
    if (auto at = image.find("@sha256:"); at != std::string::npos) image.erase(at);
    raw["image"] = image;
    json env_vars = json::object();
    if (const json* env = find_path(service, {"Spec", "TaskTemplate", "ContainerSpec", "Env"});
        env && env->is_array()) {
        for (const auto& item : *env) {
            if (!item.is_string()) continue;
            auto text = item.get<std::string>();
            auto eq = text.find('=');
            if (eq == std::string::npos) continue;
            auto key = text.substr(0, eq);
            auto value = text.substr(eq + 1);
            if (key == "fprocess")
                raw["envProcess"] = value;
            else
                env_vars[key] = value;
        }
    }
    if (!env_vars.empty()) raw["envVars"] = env_vars;
    json user_labels = json::object();
    json annotations = json::object();
    for (const auto& [key, value] : labels) {
        if (starts_with(key, kAnnotationPrefix))
            annotations[key.substr(std::string_view(kAnnotationPrefix).size())] = value;
        else if (!is_internal_label(key))
            user_labels[key] = value;
    }
    if (!user_labels.empty()) raw["labels"] = user_labels;
    if (!annotations.empty()) raw["annotations"] = annotations;
    if (const json* constraints =
            find_path(service, {"Spec", "TaskTemplate", "Placement", "Constraints"});
        constraints && constraints->is_array() && !constraints->empty())
        raw["constraints"] = *constraints;
    json secrets = json::array();
    if (const json* list = find_path(service, {"Spec", "TaskTemplate", "ContainerSpec", "Secrets"});
        list && list->is_array())
        for (const auto& secret : *list)
            if (auto name = string_at(secret, {"SecretName"}); !name.empty())
                secrets.push_back(name);
    if (!secrets.empty()) raw["secrets"] = secrets;
    for (auto [field, key] :
         {std::pair{"limits", "Limits"}, std::pair{"requests", "Reservations"}}) {
        const json* res = find_path(service, {"Spec", "TaskTemplate", "Resources", key});
        if (!res || !res->is_object()) continue;
        json out = json::object();
        if (auto it = res->find("MemoryBytes"); it != res->end() && it->is_number_integer())
            out["memory"] = std::to_string(it->get<std::int64_t>());
        if (auto it = res->find("NanoCPUs"); it != res->end() && it->is_number_integer()) {
            char text[32];
            std::snprintf(text, sizeof text, "%g",
                          static_cast<double>(it->get<std::int64_t>()) / 1e9);
            out["cpu"] = text;
        }
        if (!out.empty()) raw[field] = out;
    }
    if (const json* ro = find_path(service, {"Spec", "TaskTemplate", "ContainerSpec", "ReadOnly"});
        ro && ro->is_boolean() && ro->get<bool>())
        raw["readOnlyRootFilesystem"] = true;
    try {
        return deployment_from_json(raw, served_namespace);
    } catch (const BadRequest&) {
        // A service made by hand may not validate (no image?): keep what it has.
        FunctionDeployment deployment;
        deployment.service = function_name;
        deployment.image = image;
        deployment.raw = raw;
        return deployment;
    }
}

int desired_replicas(const json& service) {
    const json* replicas = find_path(service, {"Spec", "Mode", "Replicated", "Replicas"});
    if (!replicas || !replicas->is_number_integer()) return 0;
    return static_cast<int>(replicas->get<std::int64_t>());
}

bool task_ready(const json& task) {
    return string_at(task, {"Status", "State"}) == "running" &&
           string_at(task, {"DesiredState"}) == "running";
}

bool task_starting(const json& task) {
    return string_at(task, {"Status", "State"}) == "starting" &&
           string_at(task, {"DesiredState"}) == "running";
}

std::optional<std::string> task_address(const json& task, const std::string& network_id) {
    const json* attachments = find_path(task, {"NetworksAttachments"});
    if (!attachments || !attachments->is_array()) return std::nullopt;
    std::optional<std::string> first;
    for (const auto& attachment : *attachments) {
        const json* addresses = find_path(attachment, {"Addresses"});
        if (!addresses || !addresses->is_array() || addresses->empty() ||
            !(*addresses)[0].is_string())
            continue;
        std::string address = (*addresses)[0].get<std::string>();
        if (auto slash = address.find('/'); slash != std::string::npos) address.erase(slash);
        if (address.empty()) continue;
        // The ingress network is routing mesh plumbing, never a function's address.
        if (string_at(attachment, {"Network", "Spec", "Name"}) == "ingress") continue;
        if (!network_id.empty() && string_at(attachment, {"Network", "ID"}) == network_id)
            return address;
        if (!first) first = address;
    }
    return first;
}

}  // namespace faas::gateway::swarm
