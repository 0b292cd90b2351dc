// deploy, ready, remove, scale: changing what the gateway runs, and waiting (bounded) until the
// change has happened, so `faas deploy && faas invoke` works in a script.
#include <algorithm>
#include <chrono>
#include <ostream>
#include <thread>

#include "cli_error.h"
#include "commands.h"
#include "deployment.h"
#include "gateway_access.h"
#include "output.h"

namespace faas::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::chrono::milliseconds kDefaultTimeout = std::chrono::seconds(60);
constexpr std::chrono::milliseconds kPollInterval = std::chrono::milliseconds(200);

/// "500ms", "45s", "2m": how long was waited, as the user would write it.
std::string timeout_text(std::chrono::milliseconds timeout) {
    if (timeout.count() % 1000 != 0 && timeout < std::chrono::minutes(1))
        return std::to_string(timeout.count()) + "ms";
    return human_duration(std::chrono::duration_cast<std::chrono::seconds>(timeout));
}

std::string status_text(long status) {
    switch (status) {
        case 200:
            return "200 OK";
        case 201:
            return "201 Created";
        case 202:
            return "202 Accepted";
        default:
            return std::to_string(status);
    }
}

json delete_body(const std::string& name, const std::string& ns) {
    json body = {{"functionName", name}};
    if (!ns.empty()) body["namespace"] = ns;
    return body;
}

/// A function being deployed, and what "ready" means for it.
struct Rollout {
    std::string name;
    std::string namespace_;
    std::string image;  ///< The status must show this image; empty: any.
    long status = 0;    ///< The deploy request's answer.
};

/// What GET /system/function/<name> says; found=false for a 404.
struct FunctionState {
    bool found = false;
    long long replicas = 0;
    long long available = 0;
    std::string image;
};

FunctionState function_state(const GatewayClient& client, const std::string& name,
                             const std::string& ns) {
    const auto response =
        client.request("GET", "/system/function/" + percent_encode(name) + namespace_query(ns));
    if (response.status == 404) return {};
    expect_success(response, "cannot read the status of " + name, client);
    const json status = json::parse(response.body, nullptr, false);
    if (!status.is_object())
        throw CliError("the gateway's status of " + name + " is not a JSON object");
    FunctionState state;
    state.found = true;
    state.replicas = json_count(status.value("replicas", json()));
    state.available = json_count(status.value("availableReplicas", json()));
    if (auto image = status.find("image"); image != status.end() && image->is_string())
        state.image = image->get<std::string>();
    return state;
}

bool is_ready(const FunctionState& state, const std::string& image) {
    return state.found && state.available >= 1 && (image.empty() || same_image(image, state.image));
}

/// Waits until `rollout` is ready or `deadline` passes; then a CliError a user can act on.
void wait_ready(const GatewayClient& client, const Rollout& rollout, Clock::time_point deadline,
                std::chrono::milliseconds timeout, bool fail_if_missing) {
    for (;;) {
        const auto state = function_state(client, rollout.name, rollout.namespace_);
        if (is_ready(state, rollout.image)) return;
        if (!state.found && fail_if_missing)
            throw CliError("function " + rollout.name + " not found");
        const auto now = Clock::now();
        if (now >= deadline) {
            const std::string after = rollout.name + " is not ready after " + timeout_text(timeout);
            if (!state.found) throw CliError(after + ": the gateway does not list it");
            std::string why = std::to_string(state.replicas) + " replica" +
                              (state.replicas == 1 ? "" : "s") + ", " +
                              std::to_string(state.available) + " available";
            if (!rollout.image.empty() && !same_image(rollout.image, state.image))
                why += ", still image " + state.image + " (not " + rollout.image + ")";
            throw CliError(after + ": " + why + " (see faas logs " + rollout.name + ")");
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - now));
    }
}

/// Sends one deployment as faas-cli does: PUT (update), and POST (create) when the gateway does not
/// know the function; only POST with --update=false; DELETE then POST with --replace.
long send_deployment(const GatewayClient& client, const json& document, bool update, bool replace) {
    const std::string name = document.at("service").get<std::string>();
    const std::string ns = document.value("namespace", "");
    const std::string body = document.dump();
    const HeaderList headers = {{"Content-Type", "application/json"}};
    if (replace) {
        const auto removed =
            client.request("DELETE", "/system/functions", delete_body(name, ns).dump(), headers);
        if (removed.status != 404) expect_success(removed, "cannot remove " + name, client);
    } else if (update) {
        const auto updated = client.request("PUT", "/system/functions", body, headers);
        if (updated.status != 404) {
            expect_success(updated, "cannot deploy " + name, client);
            return updated.status;
        }
    }
    const auto created = client.request("POST", "/system/functions", body, headers);
    if (created.status == 409 && !update && !replace)
        throw CliError("function " + name + " already exists (deploy with --update or --replace)");
    expect_success(created, "cannot deploy " + name, client);
    return created.status;
}

/// Deploys `functions` (already chosen, overrides applied) and waits for them.
int deploy_functions(
    Context& ctx, const ParsedArgs& args, const GatewayClient& client,
    const std::vector<std::pair<FunctionSpec, std::map<std::string, std::string>>>& functions) {
    const bool as_json = args.flag("json");
    std::ostream& progress = as_json ? ctx.err : ctx.out;
    const bool replace = args.flag("replace");
    bool update = true;
    if (auto value = args.value("update")) {
        if (*value == "false")
            update = false;
        else if (*value != "true")
            throw UsageError("--update takes true or false, not '" + *value + "'");
    }
    const bool wait = !args.flag("no-wait");
    const auto timeout = timeout_option(args, kDefaultTimeout);

    std::vector<Rollout> rollouts;
    for (const auto& [fn, environment] : functions) {
        if (fn.image.empty())
            throw CliError("function " + fn.name + " has no image (set image: in the stack file)");
        progress << "Deploying: " << fn.name << ".\n" << std::flush;
        const long status =
            send_deployment(client, deployment_json(fn, environment), update, replace);
        rollouts.push_back({fn.name, fn.namespace_, fn.image, status});
    }

    const auto deadline = Clock::now() + timeout;
    json results = json::array();
    for (const auto& rollout : rollouts) {
        if (wait) wait_ready(client, rollout, deadline, timeout, false);
        const std::string url =
            client.base_url() + "/function/" + qualified(rollout.name, rollout.namespace_);
        progress << (wait ? "Deployed. " : "Accepted. ") << status_text(rollout.status)
                 << ". URL: " << url << "\n"
                 << std::flush;
        results.push_back(
            {{"name", rollout.name}, {"status", rollout.status}, {"url", url}, {"ready", wait}});
    }
    if (as_json) print_json(ctx.out, results);
    return 0;
}

}  // namespace

int deploy_stack(Context& ctx, const ParsedArgs& args, const Stack& stack) {
    auto chosen = selected_functions(stack, args);
    const auto& names = args.positionals();
    if (!names.empty()) {
        for (const auto& name : names) {
            if (std::none_of(chosen.begin(), chosen.end(),
                             [&](const FunctionSpec* fn) { return fn->name == name; }))
                throw CliError(
                    "no function " + name + " in " + stack.path.string() +
                    (args.has("filter") || args.has("regex") ? " (with --filter/--regex)" : ""));
        }
        std::erase_if(chosen, [&](const FunctionSpec* fn) {
            return std::find(names.begin(), names.end(), fn->name) == names.end();
        });
    }
    if (chosen.empty()) throw CliError("no functions to deploy in " + stack.path.string());

    const auto overrides = deploy_overrides(args);
    std::vector<std::pair<FunctionSpec, std::map<std::string, std::string>>> functions;
    for (const FunctionSpec* fn : chosen) {
        FunctionSpec spec = apply_overrides(*fn, overrides);
        auto environment = merged_environment(stack, *fn);
        for (const auto& [key, value] : overrides.environment)
            environment.insert_or_assign(key, value);
        functions.emplace_back(std::move(spec), std::move(environment));
    }
    const auto client = gateway_client(ctx, args, &stack);
    return deploy_functions(ctx, args, client, functions);
}

int run_deploy(Context& ctx, const ParsedArgs& args) {
    if (!args.has("image") && !args.has("name")) {
        const auto stack = load_stack_from_args(ctx, args);
        if (!stack)
            throw UsageError(
                "deploy needs a stack file (./stack.yml, or -f FILE) or --image and --name");
        return deploy_stack(ctx, args, *stack);
    }
    // One function from flags alone, like `faas-cli deploy --image x --name y`.
    const auto image = args.value("image");
    const auto name = args.value("name");
    if (!image || image->empty() || !name || name->empty())
        throw UsageError("deploy without a stack file needs both --image and --name");
    if (!args.positionals().empty())
        throw UsageError("deploy with --image and --name takes no function names");
    FunctionSpec fn;
    fn.name = *name;
    fn.image = *image;
    fn = apply_overrides(std::move(fn), deploy_overrides(args));
    auto environment = fn.environment;
    const auto client = client_for(ctx, args);
    return deploy_functions(ctx, args, client, {{std::move(fn), std::move(environment)}});
}

int run_ready(Context& ctx, const ParsedArgs& args) {
    const auto timeout = timeout_option(args, kDefaultTimeout);
    const auto deadline = Clock::now() + timeout;
    const auto client = client_for(ctx, args);
    const std::string ns = args.value("namespace").value_or("");
    if (args.positionals().empty()) {
        std::string last_problem;
        for (;;) {
            try {
                const auto health = client.request("GET", "/healthz");
                if (health.status == 200) break;
                last_problem = "/healthz answered " + std::to_string(health.status);
            } catch (const CliError& error) {
                last_problem = error.what();  // not up yet: keep trying until the deadline
            }
            const auto now = Clock::now();
            if (now >= deadline)
                throw CliError("the gateway at " + client.base_url() + " is not ready after " +
                               timeout_text(timeout) + ": " + last_problem);
            std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - now));
        }
        ctx.out << "The gateway at " << client.base_url() << " is ready.\n";
        return 0;
    }
    for (const auto& name : args.positionals()) {
        wait_ready(client, Rollout{name, ns, {}, 0}, deadline, timeout, true);
        ctx.out << name << " is ready.\n" << std::flush;
    }
    return 0;
}

int run_remove(Context& ctx, const ParsedArgs& args) {
    std::vector<std::pair<std::string, std::string>> targets;  // name, namespace
    const auto ns_flag = args.value("namespace");
    std::optional<Stack> stack;
    if (!args.positionals().empty()) {
        stack = stack_for_gateway(ctx, args);
        for (const auto& name : args.positionals())
            targets.emplace_back(name, ns_flag.value_or(""));
    } else {
        stack = require_stack(ctx, args);
        for (const FunctionSpec* fn : selected_functions(*stack, args))
            targets.emplace_back(fn->name, ns_flag.value_or(fn->namespace_));
        if (targets.empty()) throw CliError("no functions to remove in " + stack->path.string());
    }
    const auto client = gateway_client(ctx, args, stack ? &*stack : nullptr);
    std::vector<std::string> missing;
    for (const auto& [name, ns] : targets) {
        ctx.out << "Deleting: " << name << ".\n" << std::flush;
        const auto response =
            client.request("DELETE", "/system/functions", delete_body(name, ns).dump(),
                           {{"Content-Type", "application/json"}});
        if (response.status == 404) {
            missing.push_back(name);
            continue;
        }
        expect_success(response, "cannot remove " + name, client);
        ctx.out << "Removed: " << name << ".\n";
    }
    if (missing.size() == 1) throw CliError("function " + missing.front() + " not found");
    if (!missing.empty()) {
        std::string list;
        for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
        throw CliError("functions not found: " + list);
    }
    return 0;
}

int run_scale(Context& ctx, const ParsedArgs& args) {
    if (args.positionals().size() != 1) throw UsageError("scale takes one function name");
    const std::string& name = args.positionals().front();
    const auto text = args.value("replicas");
    if (!text) throw UsageError("scale needs --replicas N");
    long replicas = -1;
    try {
        size_t used = 0;
        replicas = std::stol(*text, &used);
        if (used != text->size()) replicas = -1;
    } catch (const std::exception&) {
        replicas = -1;
    }
    if (replicas < 0 || replicas > 1'000'000)
        throw UsageError("--replicas takes a whole number from 0, not '" + *text + "'");
    const std::string ns = args.value("namespace").value_or("");
    json body = {{"serviceName", name}, {"replicas", replicas}};
    if (!ns.empty()) body["namespace"] = ns;
    const auto client = client_for(ctx, args);
    const auto response = client.request(
        "POST", "/system/scale-function/" + percent_encode(name) + namespace_query(ns), body.dump(),
        {{"Content-Type", "application/json"}});
    if (response.status == 404) throw CliError("function " + name + " not found");
    expect_success(response, "cannot scale " + name, client);
    ctx.out << "Scaling " << name << " to " << replicas << " replica" << (replicas == 1 ? "" : "s")
            << ".\n";
    return 0;
}

}  // namespace faas::cli
