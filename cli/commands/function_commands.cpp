// invoke (and invoke --async), list, describe, logs: calling deployed functions and looking at
// them.
#include <algorithm>
#include <cctype>
#include <iterator>
#include <ostream>
#include <sstream>

#include "calls.h"
#include "cli_error.h"
#include "commands.h"
#include "deployment.h"
#include "gateway_access.h"
#include "output.h"
#include "time_format.h"

namespace faas::cli {
namespace {

using nlohmann::json;

/// A log line longer than this is cut into pieces: a replica printing without newlines must not
/// grow the CLI's memory without bound.
constexpr size_t kMaxLogLine = size_t{1} << 20;

std::string the_function_name(const ParsedArgs& args, std::string_view command) {
    if (args.positionals().size() != 1)
        throw UsageError(std::string(command) + " takes one function name");
    return args.positionals().front();
}

std::string function_url(const GatewayClient& client, const std::string& name,
                         const std::string& ns) {
    return client.base_url() + "/function/" + (ns.empty() ? name : name + "." + ns);
}

std::string read_all(std::istream& in) {
    std::ostringstream body;
    body << in.rdbuf();
    return body.str();
}

std::string trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return std::string(text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1));
}

std::string string_field(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json parse_json(const std::string& body, const std::string& what) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) throw CliError("the gateway's answer to " + what + " is not JSON");
    return parsed;
}

/// The status of one function; "function NAME not found" for a 404.
json function_status(const GatewayClient& client, const std::string& name, const ParsedArgs& args) {
    const auto response =
        client.request("GET", "/system/function/" + percent_encode(name) +
                                  namespace_query(args.value("namespace").value_or("")));
    if (response.status == 404) throw CliError("function " + name + " not found");
    expect_success(response, "cannot describe " + name, client);
    json status = parse_json(response.body, "describe " + name);
    if (!status.is_object())
        throw CliError("the gateway's status of " + name + " is not an object");
    return status;
}

std::string created_text(const json& status) {
    const std::string created = string_field(status, "createdAt");
    if (const auto time = parse_rfc3339(created)) return human_time(*time);
    return created;
}

/// "KEY=VALUE" lines of a JSON object of strings, in key order.
std::vector<std::string> pairs(const json& object) {
    std::vector<std::string> out;
    if (!object.is_object()) return out;
    for (const auto& [key, value] : object.items())
        out.push_back(key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
    return out;
}

std::vector<std::string> strings(const json& array) {
    std::vector<std::string> out;
    if (!array.is_array()) return out;
    for (const auto& item : array)
        out.push_back(item.is_string() ? item.get<std::string>() : item.dump());
    return out;
}

/// One "Key:   value" entry of describe; several values go one a line under each other.
void describe_entry(std::ostream& out, const std::string& key,
                    const std::vector<std::string>& values) {
    constexpr size_t kKeyWidth = 20;
    std::string label = key + ":";
    label.resize(std::max(kKeyWidth, label.size() + 1), ' ');
    if (values.empty()) {
        out << label << "<none>\n";
        return;
    }
    for (size_t i = 0; i < values.size(); ++i)
        out << (i == 0 ? label : std::string(label.size(), ' ')) << values[i] << '\n';
}

/// The plain form of one log entry, as faas-cli prints it: TIMESTAMP NAME (INSTANCE) TEXT.
void print_log_line(std::ostream& out, std::string_view line, bool raw) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    if (raw) {
        out << line << '\n';
        return;
    }
    const json entry = json::parse(line, nullptr, false);
    if (!entry.is_object()) {  // not what the API sends: shown as it came, not dropped
        out << line << '\n';
        return;
    }
    std::string text = string_field(entry, "text");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    out << string_field(entry, "timestamp") << ' ' << string_field(entry, "name") << " ("
        << string_field(entry, "instance") << ") " << text << '\n';
}

/// After `invoke --async`: the call id alone on stdout (id=$(faas invoke f --async) works) and
/// how to follow it on stderr.
void report_queued_call(Context& ctx, const ParsedArgs& args, const std::string& name,
                        const HttpResponse& response) {
    std::string id;
    if (const auto it = response.headers.find("x-call-id"); it != response.headers.end())
        id = it->second;
    if (id.empty()) id = args.value("call-id").value_or("");
    if (id.empty())
        throw CliError("the gateway queued the call to " + name + " (" +
                       std::to_string(response.status) + ") but sent no X-Call-Id");
    ctx.out << id << '\n';
    ctx.out.flush();
    std::string follow = "faas calls get " + id;
    if (const auto gateway = args.value("gateway")) follow += " -g " + *gateway;
    ctx.err << "Function submitted asynchronously: call " << id << " to " << name << " is queued ("
            << follow << ")\n";
}

}  // namespace

int run_invoke(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_function_name(args, "invoke");
    const bool async = args.flag("async");
    if (!async) {
        for (const char* flag : {"callback-url", "call-id", "keep-result"})
            if (args.has(flag)) throw UsageError("--" + std::string(flag) + " needs --async");
    }
    std::string method = args.value("method").value_or("POST");
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (method.empty() ||
        method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ-") != std::string::npos)
        throw UsageError("--method takes an HTTP method such as GET or POST, not '" + method + "'");
    if (async && method != "POST")
        throw UsageError(
            "--async calls are POST (the gateway queues POST /async-function/NAME), "
            "not " +
            method);

    std::string target = (async ? "/async-function/" : "/function/") + percent_encode(name);
    if (auto ns = args.value("namespace"); ns && !ns->empty()) target += "." + percent_encode(*ns);
    std::string query;
    for (const auto& word : args.values("query")) {
        const auto [key, value] = split_key_value(word, "query");
        query += (query.empty() ? "?" : "&") + percent_encode(key) + "=" + percent_encode(value);
    }
    target += query;

    HeaderList headers;
    std::optional<std::string> content_type = args.value("content-type");
    for (const auto& word : args.values("header")) {
        auto [key, value] = split_key_value(word, "header");
        std::string lower = key;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (lower == "content-type") {
            if (!content_type) content_type = value;  // --content-type wins when both are given
            continue;
        }
        headers.emplace_back(std::move(key), std::move(value));
    }
    headers.emplace_back("Content-Type", content_type.value_or("text/plain"));
    if (async) headers = async_call_headers(std::move(headers), args);

    const std::string body = read_all(ctx.in);
    const auto client = client_for(ctx, args);
    const auto response = client.request(method, target, body, headers);
    if (args.flag("verbose")) {
        ctx.err << "< " << method << ' ' << target << ": " << response.status << '\n';
        for (const auto& [key, value] : response.headers)
            ctx.err << "< " << key << ": " << value << '\n';
    }
    if (response.status < 200 || response.status > 299)
        throw CliError("Server returned unexpected status code: " +
                       std::to_string(response.status) + " - " + trimmed(response.body));
    if (async) {
        report_queued_call(ctx, args, name, response);
        return 0;
    }
    ctx.out.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
    ctx.out.flush();
    return 0;
}

int run_list(Context& ctx, const ParsedArgs& args) {
    if (!args.positionals().empty()) throw UsageError("list takes no arguments");
    const auto client = client_for(ctx, args);
    const auto response = client.request(
        "GET", "/system/functions" + namespace_query(args.value("namespace").value_or("")));
    expect_success(response, "cannot list functions", client);
    json functions = parse_json(response.body, "list");
    if (!functions.is_array()) throw CliError("the gateway's function list is not a JSON array");
    if (args.flag("json")) {
        print_json(ctx.out, functions);
        return 0;
    }
    std::sort(functions.begin(), functions.end(), [](const json& a, const json& b) {
        return string_field(a, "name") < string_field(b, "name");
    });
    const bool verbose = args.flag("verbose");
    Table table(verbose ? std::vector<std::string>{"Function", "Invocations", "Replicas",
                                                   "Available", "Image", "Created"}
                        : std::vector<std::string>{"Function", "Invocations", "Replicas", "Image"});
    for (const auto& fn : functions) {
        std::vector<std::string> row = {
            string_field(fn, "name"),
            std::to_string(json_count(fn.value("invocationCount", json()))),
            std::to_string(json_count(fn.value("replicas", json())))};
        if (verbose)
            row.push_back(std::to_string(json_count(fn.value("availableReplicas", json()))));
        row.push_back(string_field(fn, "image"));
        if (verbose) row.push_back(created_text(fn));
        table.add_row(std::move(row));
    }
    table.print(ctx.out);
    return 0;
}

int run_describe(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_function_name(args, "describe");
    const auto client = client_for(ctx, args);
    const json status = function_status(client, name, args);
    if (args.flag("json")) {
        print_json(ctx.out, status);
        return 0;
    }
    const long long available = json_count(status.value("availableReplicas", json()));
    auto resources = [&](const char* key) {
        std::vector<std::string> out;
        if (const auto it = status.find(key); it != status.end() && it->is_object())
            for (const auto& [what, value] : it->items())
                out.push_back(what + "=" +
                              (value.is_string() ? value.get<std::string>() : value.dump()));
        return out;
    };
    auto& out = ctx.out;
    describe_entry(out, "Name",
                   {string_field(status, "name").empty() ? name : string_field(status, "name")});
    describe_entry(out, "Status", {available >= 1 ? "Ready" : "Not Ready"});
    describe_entry(out, "Replicas", {std::to_string(json_count(status.value("replicas", json())))});
    describe_entry(out, "Available Replicas", {std::to_string(available)});
    describe_entry(out, "Invocations",
                   {std::to_string(json_count(status.value("invocationCount", json())))});
    describe_entry(out, "Image", {string_field(status, "image")});
    const std::string fprocess = string_field(status, "envProcess");
    describe_entry(
        out, "Function Process",
        fprocess.empty() ? std::vector<std::string>{} : std::vector<std::string>{fprocess});
    describe_entry(out, "URL", {function_url(client, name, args.value("namespace").value_or(""))});
    describe_entry(out, "Labels", pairs(status.value("labels", json())));
    describe_entry(out, "Annotations", pairs(status.value("annotations", json())));
    describe_entry(out, "Constraints", strings(status.value("constraints", json())));
    describe_entry(out, "Secrets", strings(status.value("secrets", json())));
    describe_entry(out, "Environment", pairs(status.value("envVars", json())));
    describe_entry(out, "Limits", resources("limits"));
    describe_entry(out, "Requests", resources("requests"));
    if (status.value("readOnlyRootFilesystem", false) == true)
        describe_entry(out, "Read-only Root FS", {"true"});
    describe_entry(out, "Created", {created_text(status)});
    return 0;
}

int run_logs(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_function_name(args, "logs");
    std::string query = "?name=" + percent_encode(name);
    if (auto ns = args.value("namespace"); ns && !ns->empty())
        query += "&namespace=" + percent_encode(*ns);
    if (auto tail = args.value("tail")) {
        if (tail->empty() || tail->find_first_not_of("0123456789") != std::string::npos ||
            tail->size() > 9)
            throw UsageError("--tail takes a number of lines, not '" + *tail + "'");
        query += "&tail=" + *tail;
    }
    if (auto since = args.value("since")) {
        std::string time;
        if (const auto ago = parse_duration(*since)) {
            time = rfc3339_nano(std::chrono::system_clock::now() - *ago);
        } else if (parse_rfc3339(*since)) {
            time = *since;
        } else {
            throw UsageError("--since takes a duration (10m, 1h) or an RFC 3339 time, not '" +
                             *since + "'");
        }
        query += "&since=" + percent_encode(time);
    }
    if (args.flag("follow")) query += "&follow=true";
    const std::string output = args.value("output").value_or(args.flag("json") ? "json" : "plain");
    if (output != "plain" && output != "json")
        throw UsageError("--output takes plain or json, not '" + output + "'");
    const bool raw = output == "json";

    const auto client = client_for(ctx, args);
    std::string pending;
    auto sink = [&](std::string_view chunk) {
        while (!chunk.empty()) {
            const auto newline = chunk.find('\n');
            const size_t take = std::min(newline == std::string_view::npos ? chunk.size() : newline,
                                         kMaxLogLine - pending.size());
            pending.append(chunk.substr(0, take));
            chunk.remove_prefix(take);
            const bool ends_line = !chunk.empty() && chunk.front() == '\n';
            if (ends_line || pending.size() == kMaxLogLine) {  // a longer line comes in pieces
                print_log_line(ctx.out, pending, raw);
                pending.clear();
                if (ends_line) chunk.remove_prefix(1);
            }
        }
        ctx.out.flush();
        return static_cast<bool>(ctx.out);  // stdout closed (| head): stop
    };
    std::string error_body;
    const long status = client.stream("GET", "/system/logs" + query, sink, &error_body);
    if (status == 404) throw CliError("function " + name + " not found");
    HttpResponse response;
    response.status = status;
    response.body = std::move(error_body);
    expect_success(response, "cannot read the logs of " + name, client);
    print_log_line(ctx.out, pending, raw);  // a last line without its newline
    ctx.out.flush();
    return 0;
}

}  // namespace faas::cli
