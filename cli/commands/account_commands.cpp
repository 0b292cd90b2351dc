// login, logout, namespace list, version: the gateway itself rather than its functions.
#include <ostream>
#include <sstream>

#include "cli_error.h"
#include "commands.h"
#include "credentials.h"
#include "gateway_access.h"
#include "output.h"

#ifndef FAAS_VERSION
#define FAAS_VERSION "dev"
#endif

namespace faas::cli {
namespace {

using nlohmann::json;

std::string gateway_for(const Context& ctx, const ParsedArgs& args) {
    const auto stack = stack_for_gateway(ctx, args);
    return gateway_url(ctx, args, stack ? &*stack : nullptr);
}

void no_arguments(const ParsedArgs& args, std::string_view command) {
    if (!args.positionals().empty()) throw UsageError(std::string(command) + " takes no arguments");
}

std::string string_at(const json& object, std::initializer_list<const char*> path) {
    const json* at = &object;
    for (const char* key : path) {
        if (!at->is_object()) return {};
        const auto it = at->find(key);
        if (it == at->end()) return {};
        at = &*it;
    }
    return at->is_string() ? at->get<std::string>() : std::string();
}

}  // namespace

int run_login(Context& ctx, const ParsedArgs& args) {
    no_arguments(args, "login");
    const std::string user = args.value("username").value_or("admin");
    if (user.empty() || user.find(':') != std::string::npos)
        throw UsageError("--username must be non-empty and without ':'");
    std::string password;
    if (args.flag("password-stdin")) {
        if (args.has("password")) throw UsageError("give --password or --password-stdin, not both");
        std::ostringstream text;
        text << ctx.in.rdbuf();
        password = text.str();
        if (password.ends_with('\n'))
            password.pop_back();  // what `echo` and a file's last line add
        if (password.ends_with('\r')) password.pop_back();
    } else if (auto given = args.value("password")) {
        password = *given;
        ctx.err << "WARNING! --password puts the password in your shell history and the process "
                   "list; --password-stdin is safer: cat ~/faas_pass.txt | faas login -u "
                << user << " --password-stdin\n";
    } else {
        throw UsageError("give the password with --password-stdin (or --password)");
    }
    if (password.empty()) throw UsageError("the password is empty");

    const std::string url = gateway_for(ctx, args);
    ctx.out << "Calling the gateway at " << url << " to check the credentials...\n" << std::flush;
    const GatewayClient client(url, BasicCredentials{user, password});
    const auto response = client.request("GET", "/system/functions");
    if (response.status == 401)
        throw CliError("invalid credentials for " + url + ": the gateway refused user " + user +
                       "; nothing was saved");
    expect_success(response, "cannot check the credentials", client);
    save_credentials(credentials_file(ctx.env, ctx.home), url, BasicCredentials{user, password});
    ctx.out << "credentials saved for " << user << " " << url << "\n";
    return 0;
}

int run_logout(Context& ctx, const ParsedArgs& args) {
    no_arguments(args, "logout");
    const std::string url = gateway_for(ctx, args);
    const auto file = credentials_file(ctx.env, ctx.home);
    if (remove_credentials(file, url))
        ctx.out << "credentials removed for " << url << "\n";
    else
        ctx.out << "no credentials were saved for " << url << " (in " << file.string() << ")\n";
    return 0;
}

int run_namespace_list(Context& ctx, const ParsedArgs& args) {
    no_arguments(args, "namespace list");
    const auto client = client_for(ctx, args);
    const auto response = client.request("GET", "/system/namespaces");
    expect_success(response, "cannot list namespaces", client);
    const json namespaces = json::parse(response.body, nullptr, false);
    if (!namespaces.is_array()) throw CliError("the gateway's namespace list is not a JSON array");
    if (args.flag("json")) {
        print_json(ctx.out, namespaces);
        return 0;
    }
    Table table({"Namespace"});
    for (const auto& ns : namespaces)
        table.add_row({ns.is_string() ? ns.get<std::string>() : ns.dump()});
    table.print(ctx.out);
    return 0;
}

int run_version(Context& ctx, const ParsedArgs& args) {
    no_arguments(args, "version");
    const bool as_json = args.flag("json");
    if (!as_json) ctx.out << "CLI: version " << FAAS_VERSION << "\n" << std::flush;
    const auto client = client_for(ctx, args);
    HttpResponse response;
    try {
        response = client.request("GET", "/system/info");
    } catch (const CliError&) {
        if (as_json)
            print_json(ctx.out, {{"cli", {{"version", FAAS_VERSION}}}, {"gateway", nullptr}});
        throw;  // "cannot reach the gateway at URL: ...", after the CLI's own version
    }
    expect_success(response, "cannot read the gateway's version", client);
    const json info = json::parse(response.body, nullptr, false);
    if (!info.is_object()) throw CliError("the gateway's /system/info is not a JSON object");
    if (as_json) {
        print_json(ctx.out, {{"cli", {{"version", FAAS_VERSION}}}, {"gateway", info}});
        return 0;
    }
    std::string gateway_version = string_at(info, {"version", "release"});
    const std::string sha = string_at(info, {"version", "sha"});
    if (!sha.empty()) gateway_version += " (" + sha + ")";
    ctx.out << "Gateway: " << client.base_url() << "\n"
            << "  version: " << (gateway_version.empty() ? "unknown" : gateway_version) << "\n"
            << "Provider: " << string_at(info, {"provider", "provider"}) << "\n"
            << "  version: " << string_at(info, {"provider", "version", "release"}) << "\n"
            << "  orchestration: " << string_at(info, {"provider", "orchestration"}) << "\n";
    return 0;
}

}  // namespace faas::cli
