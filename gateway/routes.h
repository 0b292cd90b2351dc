// Every route of the gateway, declared once. Dispatch, the Allow header of a 405, the metric
// label of a request and which requests need credentials all come from this table: adding a
// route is one row here and one handler.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "admin_handlers.h"

namespace faas::gateway {

/// Where a route's handler runs: on the connection's event loop (it must not block), or on a
/// worker thread whose answer goes back through the loop.
enum class Lane { kLoop, kWorker };

struct Route {
    /// One method, or "*" for every method in kFunctionMethods.
    std::string_view method;
    /// A literal path, or one with a "{name}" segment (one path segment, not empty, which a
    /// literal tail may follow: "{id}/logs") or a trailing "{name...}" (everything after the
    /// prefix, not empty). Also the metric label.
    std::string_view pattern;
    Lane lane;
    bool admin;  ///< Behind basic auth when it is on.
    /// The handler; null for the function-call routes, which the invoke handler serves.
    Response (AdminHandlers::*handler)(const Request&) = nullptr;
};

/// The methods a function can be called with.
inline constexpr std::string_view kFunctionMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

inline constexpr Route kRoutes[] = {
    {"*", "/function/{name...}", Lane::kLoop, false},
    {"POST", "/", Lane::kLoop, false},
    {"GET", "/healthz", Lane::kLoop, false, &AdminHandlers::healthz},
    {"GET", "/metrics", Lane::kWorker, false, &AdminHandlers::metrics},
    {"GET", "/system/functions", Lane::kWorker, true, &AdminHandlers::list_functions},
    {"POST", "/system/functions", Lane::kWorker, true, &AdminHandlers::deploy},
    {"PUT", "/system/functions", Lane::kWorker, true, &AdminHandlers::update},
    {"DELETE", "/system/functions", Lane::kWorker, true, &AdminHandlers::remove},
    {"GET", "/system/function/{name}", Lane::kWorker, true, &AdminHandlers::get_function},
    {"POST", "/system/scale-function/{name}", Lane::kWorker, true, &AdminHandlers::scale},
    {"GET", "/system/info", Lane::kWorker, true, &AdminHandlers::info},
    {"GET", "/system/namespaces", Lane::kWorker, true, &AdminHandlers::namespaces},
    {"GET", "/system/logs", Lane::kWorker, true, &AdminHandlers::logs},
    {"POST", "/system/alert", Lane::kWorker, true, &AdminHandlers::alert},
    {"GET", "/system/secrets", Lane::kWorker, true, &AdminHandlers::list_secrets},
    {"POST", "/system/secrets", Lane::kWorker, true, &AdminHandlers::create_secret},
    {"PUT", "/system/secrets", Lane::kWorker, true, &AdminHandlers::update_secret},
    {"DELETE", "/system/secrets", Lane::kWorker, true, &AdminHandlers::delete_secret},
    {"POST", "/system/functions/{name}/rollback", Lane::kWorker, true, &AdminHandlers::rollback},
    {"POST", "/system/builds", Lane::kWorker, true, &AdminHandlers::create_build},
    {"GET", "/system/builds", Lane::kWorker, true, &AdminHandlers::list_builds},
    {"GET", "/system/builds/{id}", Lane::kWorker, true, &AdminHandlers::get_build},
    {"DELETE", "/system/builds/{id}", Lane::kWorker, true, &AdminHandlers::cancel_build},
    {"GET", "/system/builds/{id}/logs", Lane::kWorker, true, &AdminHandlers::build_logs},
    {"POST", "/async-function/{name...}", Lane::kWorker, false, &AdminHandlers::enqueue_call},
    {"GET", "/system/calls", Lane::kWorker, true, &AdminHandlers::list_calls},
    {"GET", "/system/calls/{id}", Lane::kWorker, true, &AdminHandlers::get_call},
    {"DELETE", "/system/calls/{id}", Lane::kWorker, true, &AdminHandlers::cancel_call},
};

/// The metric label of a path no route matches.
inline constexpr std::string_view kOtherRoute = "other";

/// Whether `path` (no query) matches `pattern`.
bool matches(std::string_view pattern, std::string_view path);

/// What the table says about one request.
struct RouteMatch {
    const Route* route = nullptr;  ///< The row for path and method; null when none.
    /// The label of the path's routes (its pattern), or kOtherRoute when no row has the path.
    std::string_view label = kOtherRoute;
    /// When no row takes the method: the methods the path takes, for a 405's Allow header
    /// ("GET, HEAD, POST"); empty when no row has the path either.
    std::string allowed;
};

/// Finds the row for `method` on `path`. HEAD is served by a GET row.
RouteMatch find_route(std::string_view method, std::string_view path);

}  // namespace faas::gateway
