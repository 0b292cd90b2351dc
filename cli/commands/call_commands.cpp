// calls get, list, cancel: the records of asynchronous calls (`faas invoke NAME --async`) that
// the gateway keeps under /system/calls.
#include <nlohmann/json.hpp>
#include <ostream>

#include "calls.h"
#include "cli_error.h"
#include "commands.h"
#include "gateway_access.h"
#include "output.h"

namespace faas::cli {
namespace {

using nlohmann::json;

std::string the_call_id(const ParsedArgs& args, std::string_view command) {
    if (args.positionals().size() != 1)
        throw UsageError("calls " + std::string(command) + " takes one call id");
    return args.positionals().front();
}

/// The gateway's one-line message in an error answer, or "".
std::string message_of(const HttpResponse& response) {
    std::string_view text = response.body;
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    text.remove_prefix(first);
    text = text.substr(0, std::min(text.find('\n'), size_t{500}));
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    return std::string(text);
}

/// Throws CliError unless `response` is 2xx. 503 means the queue (NATS) cannot be used, not that
/// the gateway is down, so it says so; 401 and the rest are expect_success's.
void expect_call_success(const HttpResponse& response, const std::string& what,
                         const GatewayClient& client) {
    if (response.status == 503) {
        const std::string message = message_of(response);
        throw CliError(what + ": the gateway's call queue is unavailable" +
                       (message.empty() ? std::string() : ": " + message) + " (503)");
    }
    expect_success(response, what, client);
}

json parse_object(const std::string& body, const std::string& what) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object())
        throw CliError("the gateway's answer to " + what + " is not a JSON object");
    return parsed;
}

}  // namespace

int run_calls_get(Context& ctx, const ParsedArgs& args) {
    const std::string id = the_call_id(args, "get");
    const auto client = client_for(ctx, args);
    const auto response = client.request("GET", "/system/calls/" + percent_encode(id));
    if (response.status == 404) throw CliError("call " + id + " not found");
    expect_call_success(response, "cannot read call " + id, client);
    const json record = parse_object(response.body, "calls get " + id);
    if (args.flag("json")) {
        print_json(ctx.out, record);
        return 0;
    }
    print_call(ctx.out, record);
    return 0;
}

int run_calls_list(Context& ctx, const ParsedArgs& args) {
    if (!args.positionals().empty()) throw UsageError("calls list takes no arguments");
    const std::string query = calls_list_query(args);
    const auto client = client_for(ctx, args);
    const auto response = client.request("GET", "/system/calls" + query);
    if (response.status == 404)  // an OpenFaaS gateway: it keeps no records of calls
        throw CliError("the gateway at " + client.base_url() +
                       " keeps no records of calls (GET /system/calls answered 404)");
    expect_call_success(response, "cannot list calls", client);
    const json records = json::parse(response.body, nullptr, false);
    if (!records.is_array()) throw CliError("the gateway's call list is not a JSON array");
    if (args.flag("json")) {
        print_json(ctx.out, records);
        return 0;
    }
    calls_table(records).print(ctx.out);
    return 0;
}

int run_calls_cancel(Context& ctx, const ParsedArgs& args) {
    const std::string id = the_call_id(args, "cancel");
    const auto client = client_for(ctx, args);
    const auto response = client.request("DELETE", "/system/calls/" + percent_encode(id));
    if (response.status == 404) throw CliError("call " + id + " not found");
    if (response.status == 409) {  // "call ID is running: only a queued call can be cancelled"
        const std::string message = message_of(response);
        throw CliError(message.empty() ? "call " + id + " is no longer queued: not cancelled"
                                       : message);
    }
    expect_call_success(response, "cannot cancel call " + id, client);
    const json record = parse_object(response.body, "calls cancel " + id);
    if (args.flag("json")) {
        print_json(ctx.out, record);
        return 0;
    }
    const auto function = record.find("function");
    ctx.out << "Cancelled call " << id;
    if (function != record.end() && function->is_string())
        ctx.out << " to " << function->get<std::string>();
    ctx.out << ".\n";
    return 0;
}

}  // namespace faas::cli
