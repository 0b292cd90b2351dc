// Every command's entry point. The table that names them, their flags and help is in app.cpp;
// each is implemented in commands/<group>_commands.cpp.
#pragma once

#include <iosfwd>
#include <vector>

#include "args.h"
#include "context.h"

namespace faas::cli {

using CommandFn = int (*)(Context&, const ParsedArgs&);

struct BuildSettings;

// commands/template_commands.cpp: handlers from templates
int run_new(Context& ctx, const ParsedArgs& args);
int run_template_list(Context& ctx, const ParsedArgs& args);
int run_template_pull(Context& ctx, const ParsedArgs& args);

// commands/build_commands.cpp: images
int run_build(Context& ctx, const ParsedArgs& args);
int run_push(Context& ctx, const ParsedArgs& args);
int run_up(Context& ctx, const ParsedArgs& args);

// commands/deploy_commands.cpp: deployments
int run_deploy(Context& ctx, const ParsedArgs& args);
int run_ready(Context& ctx, const ParsedArgs& args);
int run_remove(Context& ctx, const ParsedArgs& args);
int run_scale(Context& ctx, const ParsedArgs& args);
/// Deploys the selected functions of `stack` and (unless --no-wait) waits until they are ready.
int deploy_stack(Context& ctx, const ParsedArgs& args, const Stack& stack);

// commands/remote_build_commands.cpp: builds in the gateway
/// Does `up` send the sources to the gateway instead of building with Docker? With
/// --remote-build, or (unless --skip-deploy) when the gateway's /system/info says it runs local
/// processes; then it says so on `progress`.
bool builds_in_gateway(Context& ctx, const ParsedArgs& args, const Stack& stack,
                       std::ostream& progress);
/// `up` by the gateway: shrinkwraps, tars and sends each of `chosen`, follows each build's log
/// and ends with its version and URL; a build that fails makes the exit code 1.
int up_in_gateway(Context& ctx, const ParsedArgs& args, const Stack& stack,
                  const std::vector<const FunctionSpec*>& chosen, const BuildSettings& settings);
int run_rollback(Context& ctx, const ParsedArgs& args);
int run_builds_list(Context& ctx, const ParsedArgs& args);
int run_builds_get(Context& ctx, const ParsedArgs& args);
int run_builds_logs(Context& ctx, const ParsedArgs& args);
int run_builds_cancel(Context& ctx, const ParsedArgs& args);

// commands/function_commands.cpp: calling (invoke --async too) and watching functions
int run_invoke(Context& ctx, const ParsedArgs& args);
int run_list(Context& ctx, const ParsedArgs& args);
int run_describe(Context& ctx, const ParsedArgs& args);
int run_logs(Context& ctx, const ParsedArgs& args);

// commands/call_commands.cpp: records of asynchronous calls (invoke --async)
int run_calls_get(Context& ctx, const ParsedArgs& args);
int run_calls_list(Context& ctx, const ParsedArgs& args);
int run_calls_cancel(Context& ctx, const ParsedArgs& args);

// commands/secret_commands.cpp
int run_secret_create(Context& ctx, const ParsedArgs& args);
int run_secret_update(Context& ctx, const ParsedArgs& args);
int run_secret_list(Context& ctx, const ParsedArgs& args);
int run_secret_remove(Context& ctx, const ParsedArgs& args);

// commands/account_commands.cpp: the gateway itself
int run_login(Context& ctx, const ParsedArgs& args);
int run_logout(Context& ctx, const ParsedArgs& args);
int run_namespace_list(Context& ctx, const ParsedArgs& args);
int run_version(Context& ctx, const ParsedArgs& args);

}  // namespace faas::cli
