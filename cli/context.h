// What every command runs with: the environment seam, the three standard streams, where the
// program lives (to find the templates installed with it), and the helpers that turn the
// global flags into a gateway client or a stack file.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "args.h"
#include "env.h"
#include "gateway_client.h"
#include "stack_file.h"

namespace faas::cli {

struct Context {
    const Env& env;
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
    /// Folder of the running `faas` binary (templates installed beside it:
    /// ../share/faas/templates).
    std::filesystem::path exe_dir;
    /// The home folder for ~/.openfaas; from $HOME unless a test sets it.
    std::filesystem::path home;
};

/// The gateway's URL: -g/--gateway, then OPENFAAS_URL, then the stack's provider.gateway (when a
/// stack is given), then http://127.0.0.1:8080. Trailing slashes removed.
std::string gateway_url(const Context& ctx, const ParsedArgs& args, const Stack* stack = nullptr);

/// A client for that gateway, with the credentials `faas login` saved for it, if any.
GatewayClient gateway_client(const Context& ctx, const ParsedArgs& args,
                             const Stack* stack = nullptr);

/// The stack file named by -f/--yaml, else ./stack.yml or ./stack.yaml; nullopt when none is named
/// and neither exists. Throws CliError for a named file that is missing or bad.
std::optional<Stack> load_stack_from_args(const Context& ctx, const ParsedArgs& args);

/// Like load_stack_from_args, but a stack is required: throws CliError saying which files were
/// tried.
Stack require_stack(const Context& ctx, const ParsedArgs& args);

/// The functions of `stack` chosen by --filter (a glob) and --regex, or all of them, in file order.
std::vector<const FunctionSpec*> selected_functions(const Stack& stack, const ParsedArgs& args);

/// The global flags every command accepts: -g/--gateway, -f/--yaml, --filter, --regex, --json,
/// -n/--namespace, -h/--help.
std::span<const FlagSpec> global_flags();

}  // namespace faas::cli
