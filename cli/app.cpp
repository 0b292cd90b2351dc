// The command table and the dispatcher: every command's name, arguments, flags and help in one
// place, so `--help`, `completion bash` and flag checking all come from the same rows.
#include "app.h"

#include <algorithm>
#include <exception>
#include <ostream>

#include "cli_error.h"

namespace faas::cli {
namespace {

int run_completion(Context& ctx, const ParsedArgs& args);
int run_help(Context& ctx, const ParsedArgs& args);

// Flags that several commands share, spelt once.
const FlagSpec kTimeout{"timeout", 0, true, false,
                        "how long to wait, e.g. 60s or 2m (default 60s)"};
const FlagSpec kEnv{"env", 'e', true, true, "environment variable KEY=VALUE (repeatable)"};
const FlagSpec kLabel{"label", 'l', true, true, "label KEY=VALUE (repeatable)"};
const FlagSpec kAnnotation{"annotation", 0, true, true, "annotation KEY=VALUE (repeatable)"};
const FlagSpec kSecret{"secret", 0, true, true, "secret the function may read (repeatable)"};
const FlagSpec kConstraint{"constraint", 0, true, true,
                           "placement constraint, e.g. node.role==worker (repeatable)"};
const FlagSpec kParallel{"parallel", 0, true, false,
                         "build this many functions at once (default 1)"};
const FlagSpec kNoCache{"no-cache", 0, false, false, "build without Docker's layer cache"};
const FlagSpec kBuildArg{"build-arg", 'b', true, true,
                         "Docker build argument KEY=VALUE (repeatable)"};
const FlagSpec kBuildOption{"build-option", 'o', true, true,
                            "template build option, e.g. dev (repeatable)"};
const FlagSpec kFromLiteral{"from-literal", 0, true, false, "the secret's value"};
const FlagSpec kFromFile{"from-file", 0, true, false, "read the secret's value from this file"};

#define FAAS_DEPLOY_FLAGS                                                                          \
    kEnv, kLabel, kAnnotation, kSecret, kConstraint,                                               \
        {"replace", 0, false, false, "remove the function first, then create it"},                 \
        {"update", 0, true, false, "update it when it exists (default true); false: create only"}, \
        {"fprocess", 0, true, false, "the process the watchdog runs (envProcess)"},                \
        {"readonly", 0, false, false, "read-only root file system (writes only to /tmp)"},         \
        {"memory-limit", 0, true, false, "memory limit, e.g. 128m"},                               \
        {"cpu-limit", 0, true, false, "CPU limit, e.g. 0.5"},                                      \
        {"memory-request", 0, true, false, "memory reservation, e.g. 64m"},                        \
        {"cpu-request", 0, true, false, "CPU reservation, e.g. 0.25"},                             \
        {"image", 0, true, false, "image to deploy (without a stack file)"},                       \
        {"name", 0, true, false, "function name (without a stack file)"},                          \
        {"no-wait", 0, false, false, "do not wait until the function is ready"}, kTimeout

const std::vector<Command> kCommands = {
    {"new",
     "NAME --lang LANG",
     "write a handler from a template and its stack file",
     {{"lang", 0, true, false, "the template, e.g. python3-http (see faas template list)"},
      {"prefix", 'p', true, false, "image prefix, e.g. 127.0.0.1:5000 or a Docker Hub user"},
      {"append", 'a', true, false, "add the function to this stack file instead of NAME.yml"},
      {"list", 0, false, false, "list the templates instead"},
      {"quiet", 'q', false, false, "skip the template's welcome message"}},
     run_new},
    {"template list", "", "list the templates faas can build from", {}, run_template_list},
    {"template pull",
     "SOURCE",
     "copy templates from a folder or git repository into ./template",
     {{"overwrite", 0, false, false, "replace templates of the same name"}},
     run_template_pull},
    {"build",
     "[NAME...]",
     "build the functions' images from their templates",
     {kParallel,
      kNoCache,
      kBuildArg,
      kBuildOption,
      {"shrinkwrap", 0, false, false, "only write the build contexts to build/<name>/"},
      {"quiet", 'q', false, false, "show one line per function, not Docker's output"}},
     run_build},
    {"push", "[NAME...]", "push the functions' images to their registries", {kParallel}, run_push},
    {"deploy",
     "[NAME...]",
     "deploy the functions (update if they exist, else create)",
     {FAAS_DEPLOY_FLAGS},
     run_deploy},
    {"up",
     "[NAME...]",
     "build, push and deploy, then wait until ready",
     {FAAS_DEPLOY_FLAGS,
      kParallel,
      kNoCache,
      kBuildArg,
      kBuildOption,
      {"skip-push", 0, false, false, "do not push (single-node Swarm, local provider)"},
      {"skip-deploy", 0, false, false, "build and push only"},
      {"quiet", 'q', false, false, "show one line per function, not Docker's output"},
      {"remote-build", 0, false, false,
       "send the source; the gateway builds (default on a local-process gateway; --timeout 10m)"}},
     run_up},
    {"rollback",
     "NAME",
     "return a function to its previous version (built by the gateway)",
     {kTimeout, {"no-wait", 0, false, false, "do not wait until the function is ready"}},
     run_rollback},
    {"builds list",
     "",
     "list the gateway's builds, newest first",
     {{"function", 0, true, false, "only this function's builds"},
      {"limit", 0, true, false, "at most N builds (default 50)"}},
     run_builds_list},
    {"builds get", "ID", "show a build's status, stages and error", {}, run_builds_get},
    {"builds logs",
     "ID",
     "print a build's log",
     {{"follow", 0, false, false, "keep printing until the build ends"}},
     run_builds_logs},
    {"builds cancel", "ID", "cancel a queued or running build", {}, run_builds_cancel},
    {"ready",
     "[NAME...]",
     "wait until functions (or the gateway, with no name) are ready",
     {kTimeout},
     run_ready},
    {"invoke",
     "NAME",
     "call a function with standard input as the body",
     {{"header", 'H', true, true, "request header KEY=VALUE (repeatable)"},
      {"query", 0, true, true, "query parameter KEY=VALUE (repeatable)"},
      {"method", 'm', true, false, "HTTP method (default POST)"},
      {"content-type", 0, true, false, "Content-Type of the body (default text/plain)"},
      {"verbose", 'v', false, false, "print the status line and headers to stderr"},
      {"async", 'a', false, false, "queue the call; print its id (follow: faas calls get ID)"},
      {"callback-url", 0, true, false, "with --async: POST the result to this http(s) URL"},
      {"call-id", 0, true, false, "with --async: the call's id; a retry with it is queued once"},
      {"keep-result", 0, false, false, "with --async: keep the function's answer in the record"}},
     run_invoke},
    {"calls get",
     "ID",
     "show an asynchronous call: status, attempts, timings, kept result",
     {},
     run_calls_get},
    {"calls list",
     "",
     "list asynchronous calls, newest first",
     {{"function", 0, true, false, "only this function's calls"},
      {"status", 0, true, false,
       "only calls in this status: queued, running, succeeded, failed, dead-lettered, "
       "cancelled"},
      {"limit", 0, true, false, "at most N calls (default 100)"}},
     run_calls_list},
    {"calls cancel", "ID", "cancel an asynchronous call still queued", {}, run_calls_cancel},
    {"list",
     "",
     "list the deployed functions",
     {{"verbose", 'v', false, false, "add available replicas and created time"}},
     run_list},
    {"describe", "NAME", "show a function's deployment, status and URL", {}, run_describe},
    {"remove", "[NAME...]", "remove functions (named, or the stack's)", {}, run_remove},
    {"logs",
     "NAME",
     "print a function's logs",
     {{"tail", 0, true, false, "only the last N lines"},
      {"since", 0, true, false, "only lines newer than this: 10m, 1h or an RFC 3339 time"},
      {"follow", 0, false, false, "keep printing new lines (Ctrl-C stops)"},
      {"output", 'o', true, false, "plain (default) or json"}},
     run_logs},
    {"scale",
     "NAME --replicas N",
     "set a function's replica count",
     {{"replicas", 0, true, false, "the replica count"}},
     run_scale},
    {"secret create",
     "NAME",
     "create a secret (value from --from-literal, --from-file or stdin)",
     {kFromLiteral, kFromFile},
     run_secret_create},
    {"secret update",
     "NAME",
     "change a secret's value",
     {kFromLiteral, kFromFile},
     run_secret_update},
    {"secret list", "", "list secrets (names only)", {}, run_secret_list},
    {"secret remove", "NAME", "remove a secret", {}, run_secret_remove},
    {"namespace list",
     "",
     "list the namespaces functions can be deployed to",
     {},
     run_namespace_list},
    {"login",
     "",
     "save credentials for the gateway (in OpenFaaS's config file)",
     {{"username", 'u', true, false, "user name (default admin)"},
      {"password", 'p', true, false, "password (prefer --password-stdin)"},
      {"password-stdin", 's', false, false, "read the password from standard input"}},
     run_login},
    {"logout", "", "forget the credentials saved for the gateway", {}, run_logout},
    {"version", "", "print the CLI's and the gateway's versions", {}, run_version},
    {"completion",
     "bash",
     "print a bash completion script: source <(faas completion bash)",
     {},
     run_completion},
    {"help", "[COMMAND]", "show help for a command", {}, run_help},
};

#undef FAAS_DEPLOY_FLAGS

std::string join_words(std::span<const std::string> words) {
    std::string joined;
    for (const auto& word : words) {
        if (!joined.empty()) joined += ' ';
        joined += word;
    }
    return joined;
}

/// The command named by the first one or two words, and how many words its name has.
std::pair<const Command*, size_t> find_command(std::span<const std::string> words) {
    for (size_t count : {size_t{2}, size_t{1}}) {
        if (words.size() < count) continue;
        const std::string name = join_words(words.first(count));
        for (const auto& command : kCommands) {
            if (command.name == name) return {&command, count};
        }
    }
    return {nullptr, 0};
}

/// The commands named "`group` ...": get, list and cancel for "calls". Empty for a word that
/// is no group.
std::vector<const Command*> group_commands(std::string_view group) {
    std::vector<const Command*> found;
    for (const auto& command : kCommands)
        if (command.name.size() > group.size() && command.name.starts_with(group) &&
            command.name[group.size()] == ' ')
            found.push_back(&command);
    return found;
}

void print_group_help(std::ostream& out, std::string_view group,
                      const std::vector<const Command*>& members) {
    out << "Usage: faas " << group << " COMMAND [ARGS] [FLAGS]\n\nCommands:\n";
    for (const auto* command : members) {
        std::string left(command->name);
        if (!command->usage.empty()) left += " " + std::string(command->usage);
        out << "  " << left;
        for (size_t width = left.size(); width < 20; ++width) out << ' ';
        out << ' ' << command->summary << '\n';
    }
    out << "\n`faas " << group << " COMMAND --help` for its flags.\n";
}

void print_flag(std::ostream& out, const FlagSpec& flag) {
    std::string left = flag.short_name ? std::string("-") + flag.short_name + ", " : "    ";
    left += "--" + std::string(flag.name);
    if (flag.takes_value) left += " VALUE";
    out << "  " << left;
    for (size_t width = left.size(); width < 28; ++width) out << ' ';
    out << ' ' << flag.help << '\n';
}

void print_command_help(std::ostream& out, const Command& command) {
    out << "Usage: faas " << command.name;
    if (!command.usage.empty()) out << ' ' << command.usage;
    out << "\n\n" << command.summary << "\n";
    if (!command.flags.empty()) {
        out << "\nFlags:\n";
        for (const auto& flag : command.flags) print_flag(out, flag);
    }
    out << "\nGlobal flags:\n";
    for (const auto& flag : global_flags()) print_flag(out, flag);
}

void print_overview(std::ostream& out) {
    out << "faas: build, deploy and call functions on a faas (or OpenFaaS) gateway\n\n"
           "Usage: faas COMMAND [ARGS] [FLAGS]\n\nCommands:\n";
    for (const auto& command : kCommands) {
        std::string left(command.name);
        out << "  " << left;
        for (size_t width = left.size(); width < 16; ++width) out << ' ';
        out << ' ' << command.summary << '\n';
    }
    out << "\nThe gateway is -g URL, else $OPENFAAS_URL, else the stack file's provider.gateway, "
           "else\n"
           "http://127.0.0.1:8080. `faas help COMMAND` or `faas COMMAND --help` for its flags.\n";
}

int run_help(Context& ctx, const ParsedArgs& args) {
    const auto& words = args.positionals();
    if (words.empty()) {
        print_overview(ctx.out);
        return 0;
    }
    auto [command, used] = find_command(words);
    if (!command && words.size() == 1) {
        if (const auto members = group_commands(words[0]); !members.empty()) {
            print_group_help(ctx.out, words[0], members);
            return 0;
        }
    }
    if (!command || used != words.size())
        throw UsageError("unknown command '" + join_words(words) + "'");
    print_command_help(ctx.out, *command);
    return 0;
}

/// A bash completion script generated from the table: commands, then each command's flags.
int run_completion(Context& ctx, const ParsedArgs& args) {
    const auto& words = args.positionals();
    if (words.size() != 1 || words[0] != "bash") throw UsageError("usage: faas completion bash");
    std::string top, cases;
    // A group's subcommands on one line: bash runs only the first `case` branch that matches.
    std::vector<std::pair<std::string, std::string>> group_subs;
    for (const auto& command : kCommands) {
        const std::string name(command.name);
        const auto space = name.find(' ');
        const std::string first = name.substr(0, space);
        if ((" " + top).find(" " + first + " ") == std::string::npos) top += first + " ";
        std::string flags;
        for (const auto& flag : command.flags) flags += "--" + std::string(flag.name) + " ";
        for (const auto& flag : global_flags()) flags += "--" + std::string(flag.name) + " ";
        if (space != std::string::npos) {
            auto group = std::find_if(group_subs.begin(), group_subs.end(),
                                      [&](const auto& known) { return known.first == first; });
            if (group == group_subs.end()) group = group_subs.insert(group, {first, ""});
            group->second += name.substr(space + 1) + " ";
        }
        cases += "    \"" + name + "\") flags=\"" + flags + "\" ;;\n";
    }
    std::string groups;
    for (const auto& [group, subs] : group_subs)
        groups += "      " + group + ") subs=\"" + subs + "\" ;;\n";
    ctx.out << "# bash completion for faas: source <(faas completion bash)\n"
               "_faas() {\n"
               "  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]} "
               "subs=\"\" flags=\"\"\n"
               "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
               "    COMPREPLY=($(compgen -W \""
            << top
            << "\" -- \"$cur\")); return\n"
               "  fi\n"
               "  case $cmd in\n"
            << groups
            << "  esac\n"
               "  if [[ -n $subs && $COMP_CWORD -eq 2 ]]; then\n"
               "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\")); return\n"
               "  fi\n"
               "  [[ -n $subs ]] && cmd=\"$cmd $sub\"\n"
               "  case $cmd in\n"
            << cases
            << "  esac\n"
               "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"));\n"
               "  else COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
               "}\n"
               "complete -F _faas faas\n";
    return 0;
}

}  // namespace

std::span<const Command> commands() {
    return kCommands;
}

int run(Context& ctx, std::span<const std::string> words) {
    const Command* command = nullptr;
    try {
        if (words.empty() || words[0] == "--help" || words[0] == "-h") {
            print_overview(ctx.out);
            return words.empty() ? kExitUsage : 0;
        }
        static const std::vector<std::string> kVersionWords{"version"};
        if (words[0] == "--version") words = kVersionWords;
        size_t used = 0;
        std::tie(command, used) = find_command(words);
        if (!command) {
            // "faas calls", "faas calls --help": the group's commands.
            if (const auto members = group_commands(words[0]); !members.empty()) {
                if (words.size() == 1) {
                    print_group_help(ctx.out, words[0], members);
                    return kExitUsage;
                }
                if (words[1] == "--help" || words[1] == "-h") {
                    print_group_help(ctx.out, words[0], members);
                    return 0;
                }
                throw UsageError("unknown command '" + words[0] + " " + words[1] + "' (faas " +
                                 words[0] + " --help lists them)");
            }
            throw UsageError("unknown command '" + words[0] + "' (faas --help lists them)");
        }
        std::vector<FlagSpec> specs(command->flags.begin(), command->flags.end());
        const auto globals = global_flags();
        specs.insert(specs.end(), globals.begin(), globals.end());
        const auto rest = words.subspan(used);
        if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
            std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
            print_command_help(ctx.out, *command);
            return 0;
        }
        const ParsedArgs args = parse_args(rest, specs);
        return command->run(ctx, args);
    } catch (const UsageError& error) {
        ctx.err << "faas: " << error.what();
        if (command) ctx.err << " (faas " << command->name << " --help)";
        ctx.err << '\n';
        return error.exit_code();
    } catch (const CliError& error) {
        ctx.err << "faas: " << error.what() << '\n';
        return error.exit_code();
    } catch (const std::exception& error) {
        ctx.err << "faas: " << error.what() << '\n';
        return kExitFailure;
    }
}

}  // namespace faas::cli
