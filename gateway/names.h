// Where a request goes: which function a path, an X-Function header or an Alexa skill body
// names, checked against a strict name grammar before anything is looked up.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace faas::gateway {

/// A DNS label: a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'.
/// Function names, namespaces and the one namespace setting all obey it, which rules out
/// path tricks ('..', '/', '%2e'), host:port and user@host forms before any lookup.
bool is_valid_name(std::string_view name);

/// Secret names also become file names; same grammar as functions plus '.' and '_' inside.
bool is_valid_secret_name(std::string_view name);

/// A function a request names, after validation.
struct FunctionRef {
    std::string name;
    std::string namespace_;  ///< Empty when the request did not name one.
};

enum class RouteError {
    kInvalidName,     ///< 400: the name (or namespace) is not a DNS label.
    kNoName,          ///< 400: nothing names a function.
    kOtherNamespace,  ///< 404: a valid namespace this gateway does not serve.
};

struct ParsedName {
    std::optional<FunctionRef> ref;
    RouteError error = RouteError::kNoName;
};

/// Parses "name" or "name.namespace" (split on the last '.'), validating both parts and
/// checking the namespace against `served_namespace`.
ParsedName parse_function_name(std::string_view text, std::string_view served_namespace);

/// A request for /function/<name>[/<path>].
struct FunctionRoute {
    ParsedName name;
    std::string upstream_path;  ///< "/" or "/<path>", still percent-encoded, query included.
};

/// Splits a raw request target ("/function/fn.ns/a/b?x=1") into name and upstream path.
/// Returns nullopt when the target is not under `prefix` (/function/, or /async-function/).
/// Works on the undecoded target so that "%2e%2e" or "%2F" in the name is seen as written and
/// refused.
std::optional<FunctionRoute> parse_function_target(std::string_view target,
                                                   std::string_view served_namespace,
                                                   std::string_view prefix = "/function/");

/// The intent name of an Alexa skill request body (`request.intent.name`), if it has one.
std::optional<std::string> alexa_intent_name(std::string_view body);

}  // namespace faas::gateway
