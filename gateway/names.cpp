// Name validation, and the function a request names.
#include "names.h"

#include <nlohmann/json.hpp>

namespace faas::gateway {
namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    if (name.front() == '-' || name.back() == '-') return false;
    for (char c : name)
        if (!is_lower_alnum(c) && c != '-') return false;
    return true;
}

bool is_valid_secret_name(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) return false;
    for (char c : name)
        if (!is_lower_alnum(c) && c != '-' && c != '_' && c != '.') return false;
    return name.find("..") == std::string_view::npos;
}

ParsedName parse_function_name(std::string_view text, std::string_view served_namespace) {
    ParsedName parsed;
    if (text.empty()) {
        parsed.error = RouteError::kNoName;
        return parsed;
    }
    std::string_view name = text;
    std::string_view ns;
    if (auto dot = text.rfind('.'); dot != std::string_view::npos) {
        name = text.substr(0, dot);
        ns = text.substr(dot + 1);
        if (!is_valid_name(ns)) {
            parsed.error = RouteError::kInvalidName;
            return parsed;
        }
    }
    if (!is_valid_name(name)) {
        parsed.error = RouteError::kInvalidName;
        return parsed;
    }
    if (!ns.empty() && ns != served_namespace) {
        parsed.error = RouteError::kOtherNamespace;
        return parsed;
    }
    parsed.ref = FunctionRef{std::string(name), std::string(ns)};
    return parsed;
}

std::optional<FunctionRoute> parse_function_target(std::string_view target,
                                                   std::string_view served_namespace,
                                                   std::string_view prefix) {
    if (target.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view rest = target.substr(prefix.size());
    auto end = rest.find_first_of("/?");
    std::string_view name = rest.substr(0, end);
    FunctionRoute route;
    route.name = parse_function_name(name, served_namespace);
    if (end == std::string_view::npos) {
        route.upstream_path = "/";
    } else if (rest[end] == '?') {
        route.upstream_path = "/" + std::string(rest.substr(end));
    } else {
        route.upstream_path = std::string(rest.substr(end));
    }
    return route;
}

std::optional<std::string> alexa_intent_name(std::string_view body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return std::nullopt;
    auto request = json.find("request");
    if (request == json.end() || !request->is_object()) return std::nullopt;
    auto intent = request->find("intent");
    if (intent == request->end() || !intent->is_object()) return std::nullopt;
    auto name = intent->find("name");
    if (name == intent->end() || !name->is_string()) return std::nullopt;
    return name->get<std::string>();
}

}  // namespace faas::gateway
