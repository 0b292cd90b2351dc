// `faas build`, `faas push` and `faas up`: images from the stack's functions, pushed to their
// registries, then deployed (deploy_stack, in deploy_commands.cpp).
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli_error.h"
#include "commands.h"
#include "image_builder.h"
#include "output.h"
#include "templates.h"

namespace faas::cli {
namespace {

constexpr size_t kMaxParallel = 32;

/// The stack's functions chosen by --filter/--regex and, if any are given, by NAME arguments.
std::vector<const FunctionSpec*> chosen_functions(const Stack& stack, const ParsedArgs& args) {
    auto chosen = selected_functions(stack, args);
    const auto& names = args.positionals();
    for (const auto& name : names) {
        if (std::none_of(chosen.begin(), chosen.end(),
                         [&](const FunctionSpec* fn) { return fn->name == name; }))
            throw CliError(
                "no function " + name + " in " + stack.path.string() +
                (args.has("filter") || args.has("regex") ? " (with --filter/--regex)" : ""));
    }
    if (!names.empty()) {
        std::erase_if(chosen, [&](const FunctionSpec* fn) {
            return std::find(names.begin(), names.end(), fn->name) == names.end();
        });
    }
    if (chosen.empty()) throw CliError("no functions in " + stack.path.string());
    return chosen;
}

size_t parallel_count(const ParsedArgs& args) {
    const auto text = args.value("parallel");
    if (!text) return 1;
    size_t count = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), count);
    if (error != std::errc() || end != text->data() + text->size() || count < 1 ||
        count > kMaxParallel)
        throw UsageError("--parallel takes a number from 1 to " + std::to_string(kMaxParallel) +
                         ", not '" + *text + "'");
    return count;
}

BuildSettings build_settings(const ParsedArgs& args) {
    BuildSettings settings;
    settings.no_cache = args.flag("no-cache");
    for (const auto& pair : args.values("build-arg")) {
        const auto equals = pair.find('=');
        if (equals == std::string::npos || equals == 0)
            throw UsageError("--build-arg " + pair + ": write KEY=VALUE");
        settings.build_args[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    settings.build_options = args.values("build-option");
    return settings;
}

std::string display(const std::filesystem::path& path) {
    const std::string text = path.lexically_normal().string();
    return text.empty() ? "." : text;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
    return joined;
}

std::vector<std::string> failed_names(const std::vector<StepOutcome>& outcomes) {
    std::vector<std::string> failed;
    for (const auto& outcome : outcomes)
        if (!outcome.ok) failed.push_back(outcome.function);
    return failed;
}

nlohmann::json outcome_json(const StepOutcome& outcome, const char* done) {
    nlohmann::json item = {{"name", outcome.function},
                           {"image", outcome.image},
                           {"status", outcome.skipped ? "skipped"
                                      : outcome.ok    ? done
                                                      : "failed"},
                           {"seconds", outcome.seconds}};
    if (!outcome.message.empty()) item["message"] = outcome.message;
    return item;
}

/// Builds the chosen functions (or, with `shrinkwrap_only`, only writes their contexts). Every
/// context is prepared before the first build starts, so a missing handler or template stops
/// everything early. A failed build is an outcome, not an exception.
std::vector<StepOutcome> build_stack(Context& ctx, const ParsedArgs& args, const Stack& stack,
                                     std::ostream& progress, bool shrinkwrap_only, bool quiet) {
    const auto chosen = chosen_functions(stack, args);
    const BuildSettings settings = build_settings(args);
    const size_t parallel = parallel_count(args);
    const bool any_to_build = std::any_of(chosen.begin(), chosen.end(),
                                          [](const FunctionSpec* fn) { return !fn->skip_build; });
    if (any_to_build && !shrinkwrap_only) require_docker();

    LinePrinter printer(progress);
    const auto roots = template_roots(ctx.env, ctx.exe_dir, stack.dir);
    std::vector<StepOutcome> outcomes;
    std::vector<BuildPlan> plans;
    for (const FunctionSpec* fn : chosen) {
        if (fn->skip_build) {
            printer.print(fn->name, "skip_build: true, not built (uses " + fn->image + ")");
            outcomes.push_back({fn->name, fn->image, true, true, 0, "skip_build"});
            continue;
        }
        BuildPlan plan = plan_build(stack, *fn, roots, settings);
        printer.print(fn->name, "build context " + display(plan.context) +
                                    (plan.template_name == kDockerfileLanguage
                                         ? " (its own Dockerfile)"
                                         : " (template " + plan.template_name + ")"));
        plans.push_back(std::move(plan));
    }
    if (shrinkwrap_only) {
        for (const auto& plan : plans)
            outcomes.push_back({plan.function, plan.image, true, false, 0, "shrinkwrapped"});
        return outcomes;
    }

    std::vector<StepOutcome> built(plans.size());
    run_parallel(plans.size(), parallel, [&](size_t i) {
        if (!quiet) printer.print(plans[i].function, "building " + plans[i].image);
        built[i] = run_docker_build(plans[i], printer, quiet);
    });
    for (auto& outcome : built) outcomes.push_back(std::move(outcome));
    return outcomes;
}

std::vector<StepOutcome> push_stack(const Stack& stack, const ParsedArgs& args,
                                    std::ostream& progress) {
    const auto chosen = chosen_functions(stack, args);
    const size_t parallel = parallel_count(args);
    const bool any_to_push = std::any_of(chosen.begin(), chosen.end(), [](const FunctionSpec* fn) {
        return !fn->skip_build && !is_library_image(fn->image);
    });
    if (any_to_push) require_docker();

    LinePrinter printer(progress);
    std::vector<StepOutcome> outcomes(chosen.size());
    run_parallel(chosen.size(), parallel, [&](size_t i) {
        const FunctionSpec& fn = *chosen[i];
        if (fn.skip_build) {
            printer.print(fn.name, "skip_build: true, not pushed");
            outcomes[i] = {fn.name, fn.image, true, true, 0, "skip_build"};
            return;
        }
        outcomes[i] = run_docker_push(fn, printer);
    });
    return outcomes;
}

}  // namespace

int run_build(Context& ctx, const ParsedArgs& args) {
    const Stack stack = require_stack(ctx, args);
    const bool as_json = args.flag("json");
    std::ostream& progress = as_json ? ctx.err : ctx.out;
    const auto outcomes =
        build_stack(ctx, args, stack, progress, args.flag("shrinkwrap"), args.flag("quiet"));
    if (as_json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& outcome : outcomes) {
            nlohmann::json item = outcome_json(outcome, "built");
            if (outcome.message == "shrinkwrapped") item["status"] = "shrinkwrapped";
            list.push_back(std::move(item));
        }
        print_json(ctx.out, list);
    }
    if (const auto failed = failed_names(outcomes); !failed.empty())
        throw CliError("build failed for " + join_names(failed) + " (its output is above)");
    return 0;
}

int run_push(Context& ctx, const ParsedArgs& args) {
    const Stack stack = require_stack(ctx, args);
    const bool as_json = args.flag("json");
    const auto outcomes = push_stack(stack, args, as_json ? ctx.err : ctx.out);
    if (as_json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& outcome : outcomes) list.push_back(outcome_json(outcome, "pushed"));
        print_json(ctx.out, list);
    }
    if (const auto failed = failed_names(outcomes); !failed.empty())
        throw CliError("push failed for " + join_names(failed) + " (its output is above)");
    return 0;
}

int run_up(Context& ctx, const ParsedArgs& args) {
    const Stack stack = require_stack(ctx, args);
    // With --json only the deployment's result goes to stdout; build and push progress to stderr.
    std::ostream& progress = args.flag("json") ? ctx.err : ctx.out;
    if (builds_in_gateway(ctx, args, stack, progress))
        return up_in_gateway(ctx, args, stack, chosen_functions(stack, args), build_settings(args));
    const auto built = build_stack(ctx, args, stack, progress, false, args.flag("quiet"));
    if (const auto failed = failed_names(built); !failed.empty())
        throw CliError("build failed for " + join_names(failed) +
                       " (its output is above); nothing was deployed");
    if (!args.flag("skip-push")) {
        const auto outcomes = push_stack(stack, args, progress);
        if (const auto failed = failed_names(outcomes); !failed.empty())
            throw CliError(
                "push failed for " + join_names(failed) +
                " (its output is above; --skip-push deploys the local images on a single node)");
    }
    if (args.flag("skip-deploy")) return 0;
    return deploy_stack(ctx, args, stack);
}

}  // namespace faas::cli
