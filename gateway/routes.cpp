// Matching requests against the route table.
#include "routes.h"

namespace faas::gateway {
namespace {

bool takes(const Route& route, std::string_view method) {
    if (route.method == "*") {
        std::string_view list = kFunctionMethods;
        while (!list.empty()) {
            const auto comma = list.find(", ");
            if (list.substr(0, comma) == method) return true;
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 2);
        }
        return false;
    }
    return route.method == method || (method == "HEAD" && route.method == "GET");
}

void add_allowed(std::string& allowed, std::string_view method) {
    if (!allowed.empty()) allowed += ", ";
    allowed += method;
}

}  // namespace

bool matches(std::string_view pattern, std::string_view path) {
    const auto brace = pattern.find('{');
    if (brace == std::string_view::npos) return pattern == path;
    const std::string_view prefix = pattern.substr(0, brace);
    if (path.substr(0, prefix.size()) != prefix) return false;
    std::string_view rest = path.substr(prefix.size());
    if (pattern.substr(brace).find("...}") != std::string_view::npos) return !rest.empty();
    // A one-segment placeholder may be followed by a literal tail ("{id}/logs").
    const std::string_view tail = pattern.substr(pattern.find('}', brace) + 1);
    if (rest.size() <= tail.size() || rest.substr(rest.size() - tail.size()) != tail) return false;
    rest.remove_suffix(tail.size());
    return rest.find('/') == std::string_view::npos;
}

RouteMatch find_route(std::string_view method, std::string_view path) {
    RouteMatch match;
    // Every call passes here: the Allow list is built only for a method no row takes.
    for (const Route& route : kRoutes) {
        if (!matches(route.pattern, path)) continue;
        match.label = route.pattern;
        if (takes(route, method)) {
            match.route = &route;
            return match;
        }
    }
    if (match.label == kOtherRoute) return match;
    for (const Route& route : kRoutes) {
        if (!matches(route.pattern, path)) continue;
        if (route.method == "*") {
            match.allowed = kFunctionMethods;
        } else {
            add_allowed(match.allowed, route.method);
            if (route.method == "GET") add_allowed(match.allowed, "HEAD");
        }
    }
    return match;
}

}  // namespace faas::gateway
