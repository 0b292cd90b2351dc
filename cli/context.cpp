// The global flags, turned into what commands need: the gateway's URL and a client for it, the
// stack file, and the functions chosen from it.
#include "context.h"

#include <fnmatch.h>

#include <regex>

#include "credentials.h"

namespace faas::cli {
namespace {

const FlagSpec kGlobalFlags[] = {
    {"gateway", 'g', true, false,
     "gateway URL (else $OPENFAAS_URL, the stack's, http://127.0.0.1:8080)"},
    {"yaml", 'f', true, false, "stack file (default ./stack.yml or ./stack.yaml)"},
    {"filter", 0, true, false, "only the stack's functions whose names match this glob"},
    {"regex", 0, true, false,
     "only the stack's functions whose names match this regular expression"},
    {"namespace", 'n', true, false, "the functions' namespace"},
    {"json", 0, false, false, "JSON output, for scripts"},
    {"help", 'h', false, false, "show this help"},
};

std::string without_trailing_slashes(std::string url) {
    while (url.size() > 1 && url.back() == '/') url.pop_back();
    return url;
}

}  // namespace

std::span<const FlagSpec> global_flags() {
    return kGlobalFlags;
}

std::string gateway_url(const Context& ctx, const ParsedArgs& args, const Stack* stack) {
    if (auto flag = args.value("gateway"); flag && !flag->empty())
        return without_trailing_slashes(*flag);
    if (auto env = ctx.env.get("OPENFAAS_URL"); env && !env->empty())
        return without_trailing_slashes(*env);
    if (stack && !stack->gateway.empty()) return without_trailing_slashes(stack->gateway);
    return "http://127.0.0.1:8080";
}

GatewayClient gateway_client(const Context& ctx, const ParsedArgs& args, const Stack* stack) {
    std::string url = gateway_url(ctx, args, stack);
    auto credentials = load_credentials(credentials_file(ctx.env, ctx.home), url);
    return GatewayClient(std::move(url), std::move(credentials));
}

std::optional<Stack> load_stack_from_args(const Context& ctx, const ParsedArgs& args) {
    if (auto file = args.value("yaml")) return load_stack(*file, ctx.env);
    for (const char* name : {"stack.yml", "stack.yaml"}) {
        if (std::filesystem::exists(name)) return load_stack(name, ctx.env);
    }
    return std::nullopt;
}

Stack require_stack(const Context& ctx, const ParsedArgs& args) {
    if (auto stack = load_stack_from_args(ctx, args)) return std::move(*stack);
    throw CliError(
        "no stack file: ./stack.yml and ./stack.yaml do not exist (name one with -f FILE)");
}

std::vector<const FunctionSpec*> selected_functions(const Stack& stack, const ParsedArgs& args) {
    const auto filter = args.value("filter");
    std::optional<std::regex> regex;
    if (auto pattern = args.value("regex")) {
        try {
            regex.emplace(*pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& error) {
            throw UsageError("--regex '" + *pattern +
                             "' is not a valid regular expression: " + error.what());
        }
    }
    std::vector<const FunctionSpec*> chosen;
    for (const auto& fn : stack.functions) {
        if (filter && fnmatch(filter->c_str(), fn.name.c_str(), 0) != 0) continue;
        if (regex && !std::regex_search(fn.name, *regex)) continue;
        chosen.push_back(&fn);
    }
    if (chosen.empty() && (filter || regex))
        throw CliError("no function in " + stack.path.string() + " matches " +
                       (filter ? "--filter " + *filter : "") + (filter && regex ? " and " : "") +
                       (regex ? "--regex " + *args.value("regex") : ""));
    return chosen;
}

}  // namespace faas::cli
