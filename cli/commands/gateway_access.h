// What the commands that talk to the gateway share: the client for the gateway the user means, and
// URL encoding for the names and values they put in paths and queries, and --timeout.
#pragma once

#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "args.h"
#include "cli_error.h"
#include "context.h"
#include "output.h"

namespace faas::cli {

/// The stack file, read only for its provider.gateway. One named with -f must be valid; a
/// ./stack.yml that is not a faas stack (another tool's, say) must not stop `faas list`, so a bad
/// default file is passed over here (deploy reads it again and reports it).
inline std::optional<Stack> stack_for_gateway(const Context& ctx, const ParsedArgs& args) {
    if (args.has("yaml")) return load_stack_from_args(ctx, args);
    try {
        return load_stack_from_args(ctx, args);
    } catch (const CliError&) {
        return std::nullopt;
    }
}

/// A client for the gateway named by -g, OPENFAAS_URL or the stack file, with saved credentials.
inline GatewayClient client_for(const Context& ctx, const ParsedArgs& args) {
    const auto stack = stack_for_gateway(ctx, args);
    return gateway_client(ctx, args, stack ? &*stack : nullptr);
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
inline std::string percent_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

/// "hello" or "hello.ns": how the gateway's function URLs name a function in a namespace.
inline std::string qualified(const std::string& name, const std::string& ns) {
    return ns.empty() ? name : name + "." + ns;
}

/// --timeout as a duration ("60s", "2m", "90"), `fallback` without it. Throws UsageError.
inline std::chrono::milliseconds timeout_option(const ParsedArgs& args,
                                                std::chrono::milliseconds fallback) {
    const auto text = args.value("timeout");
    if (!text) return fallback;
    const auto timeout = parse_duration(*text);
    if (!timeout || timeout->count() == 0)
        throw UsageError("--timeout takes a duration such as 60s, 2m or 90, not '" + *text + "'");
    return *timeout;
}

/// "?namespace=NS" for a non-empty namespace, else "".
inline std::string namespace_query(std::string_view ns) {
    return ns.empty() ? std::string() : "?namespace=" + percent_encode(ns);
}

}  // namespace faas::cli
