// The stack function -> FunctionDeployment mapping.
#include "deployment.h"

#include <algorithm>

#include "cli_error.h"

namespace faas::cli {
namespace {

std::map<std::string, std::string> key_values(const ParsedArgs& args, std::string_view flag) {
    std::map<std::string, std::string> out;
    for (const auto& word : args.values(flag)) {
        auto [key, value] = split_key_value(word, flag);
        out.insert_or_assign(std::move(key), std::move(value));
    }
    return out;
}

nlohmann::json resources_json(const Resources& resources) {
    nlohmann::json out = nlohmann::json::object();
    if (!resources.memory.empty()) out["memory"] = resources.memory;
    if (!resources.cpu.empty()) out["cpu"] = resources.cpu;
    return out;
}

void set_resource(std::optional<Resources>& target, const std::optional<std::string>& memory,
                  const std::optional<std::string>& cpu) {
    if (!memory && !cpu) return;
    if (!target) target = Resources{};
    if (memory) target->memory = *memory;
    if (cpu) target->cpu = *cpu;
}

/// "docker.io/library/x:latest" for "x": the form registries and Docker report.
std::string normalised_image(std::string_view image) {
    std::string name(image);
    if (const auto at = name.find('@'); at != std::string::npos) return name;  // a digest is exact
    const auto slash = name.find('/');
    const std::string first = slash == std::string::npos ? "" : name.substr(0, slash);
    const bool has_registry =
        first.find_first_of(".:") != std::string::npos || first == "localhost";
    if (!has_registry)
        name = (slash == std::string::npos ? "docker.io/library/" : "docker.io/") + name;
    const auto last_slash = name.rfind('/');
    if (name.find(':', last_slash) == std::string::npos) name += ":latest";
    return name;
}

}  // namespace

std::pair<std::string, std::string> split_key_value(std::string_view word, std::string_view flag) {
    const auto equals = word.find('=');
    if (equals == std::string_view::npos || equals == 0)
        throw UsageError("--" + std::string(flag) + " takes KEY=VALUE, not '" + std::string(word) +
                         "'");
    return {std::string(word.substr(0, equals)), std::string(word.substr(equals + 1))};
}

DeployOverrides deploy_overrides(const ParsedArgs& args) {
    DeployOverrides o;
    o.environment = key_values(args, "env");
    o.labels = key_values(args, "label");
    o.annotations = key_values(args, "annotation");
    o.secrets = args.values("secret");
    o.constraints = args.values("constraint");
    o.fprocess = args.value("fprocess");
    o.namespace_ = args.value("namespace");
    if (args.has("readonly")) o.readonly_root_filesystem = args.flag("readonly");
    o.memory_limit = args.value("memory-limit");
    o.cpu_limit = args.value("cpu-limit");
    o.memory_request = args.value("memory-request");
    o.cpu_request = args.value("cpu-request");
    return o;
}

FunctionSpec apply_overrides(FunctionSpec fn, const DeployOverrides& o) {
    for (const auto& [key, value] : o.environment) fn.environment.insert_or_assign(key, value);
    for (const auto& [key, value] : o.labels) fn.labels.insert_or_assign(key, value);
    for (const auto& [key, value] : o.annotations) fn.annotations.insert_or_assign(key, value);
    for (const auto& secret : o.secrets)
        if (std::find(fn.secrets.begin(), fn.secrets.end(), secret) == fn.secrets.end())
            fn.secrets.push_back(secret);
    if (!o.constraints.empty()) fn.constraints = o.constraints;
    if (o.fprocess) fn.fprocess = *o.fprocess;
    if (o.namespace_) fn.namespace_ = *o.namespace_;
    if (o.readonly_root_filesystem) fn.readonly_root_filesystem = *o.readonly_root_filesystem;
    set_resource(fn.limits, o.memory_limit, o.cpu_limit);
    set_resource(fn.requests, o.memory_request, o.cpu_request);
    return fn;
}

nlohmann::json deployment_json(const FunctionSpec& fn,
                               const std::map<std::string, std::string>& environment) {
    nlohmann::json out = {{"service", fn.name}, {"image", fn.image}};
    if (!fn.namespace_.empty()) out["namespace"] = fn.namespace_;
    if (!fn.fprocess.empty()) out["envProcess"] = fn.fprocess;
    if (!environment.empty()) out["envVars"] = environment;
    if (!fn.labels.empty()) out["labels"] = fn.labels;
    if (!fn.annotations.empty()) out["annotations"] = fn.annotations;
    if (!fn.constraints.empty()) out["constraints"] = fn.constraints;
    if (!fn.secrets.empty()) out["secrets"] = fn.secrets;
    if (fn.limits) {
        if (auto limits = resources_json(*fn.limits); !limits.empty()) out["limits"] = limits;
    }
    if (fn.requests) {
        if (auto requests = resources_json(*fn.requests); !requests.empty())
            out["requests"] = requests;
    }
    if (fn.readonly_root_filesystem) out["readOnlyRootFilesystem"] = true;
    return out;
}

bool same_image(std::string_view deployed, std::string_view reported) {
    return deployed == reported || normalised_image(deployed) == normalised_image(reported);
}

}  // namespace faas::cli
