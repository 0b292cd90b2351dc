// Builds in the gateway: `faas up --remote-build` (and `faas up` against a gateway that runs local
// processes) sends each function's shrinkwrapped context as a gzip'd tar and follows the build's
// log; `faas rollback` returns a function to its previous version; `faas builds` looks at builds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "archive.h"
#include "cli_error.h"
#include "commands.h"
#include "deployment.h"
#include "gateway_access.h"
#include "image_builder.h"
#include "output.h"
#include "templates.h"
#include "time_format.h"

namespace faas::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

/// A build in the gateway installs packages and runs tests: far longer than a deploy's 60 s.
constexpr std::chrono::milliseconds kDefaultBuildTimeout = std::chrono::minutes(10);
constexpr std::chrono::milliseconds kDefaultRollbackTimeout = std::chrono::seconds(60);
constexpr std::chrono::milliseconds kPollInterval = std::chrono::milliseconds(500);
constexpr std::chrono::milliseconds kReadyPollInterval = std::chrono::milliseconds(200);
/// A log line longer than this is printed in pieces, so a build printing without newlines
/// cannot grow the CLI's memory without bound.
constexpr size_t kMaxLogLine = size_t{1} << 20;
/// Lines of a failed build's log that --quiet still shows, so the cause is visible.
constexpr size_t kQuietTailLines = 30;
/// Following more builds than this at once would only add threads waiting on the same gateway.
constexpr size_t kMaxFollowers = 16;
/// An error in the builds table is cut here; `faas builds get` shows it whole.
constexpr size_t kMaxErrorColumn = 60;

/// up's flags that mean something only when Docker builds on this machine.
constexpr const char* kLocalOnlyFlags[] = {"skip-push", "skip-deploy", "no-cache", "parallel",
                                           "replace",   "update",      "image",    "name"};

std::string string_field(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json parse_object(const std::string& body, const std::string& what) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object())
        throw CliError("the gateway's answer to " + what + " is not a JSON object");
    return parsed;
}

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

std::string function_url(const GatewayClient& client, const std::string& name,
                         const std::string& ns) {
    return client.base_url() + "/function/" + qualified(name, ns);
}

bool is_finished(const std::string& status) {
    return status == "ready" || status == "failed" || status == "cancelled";
}

/// How long a build took: its stages' seconds added up; for a record without timed stages, from
/// createdAt to finishedAt. nullopt while it runs.
std::optional<double> build_seconds(const json& record) {
    if (!is_finished(string_field(record, "status"))) return std::nullopt;
    double total = 0;
    bool timed = false;
    if (const auto stages = record.find("stages"); stages != record.end() && stages->is_array()) {
        for (const auto& stage : *stages) {
            if (const auto it = stage.find("seconds"); it != stage.end() && it->is_number()) {
                total += it->get<double>();
                timed = true;
            }
        }
    }
    if (timed) return total;
    const auto created = parse_rfc3339(string_field(record, "createdAt"));
    const auto finished = parse_rfc3339(string_field(record, "finishedAt"));
    if (!created || !finished) return std::nullopt;
    return std::chrono::duration<double>(*finished - *created).count();
}

/// Hands whole lines of a byte stream to `on_line` (without the newline or a trailing '\r');
/// a line over kMaxLogLine comes in pieces.
class LineSplitter {
  public:
    template <typename OnLine>
    void feed(std::string_view chunk, OnLine&& on_line) {
        while (!chunk.empty()) {
            const auto newline = chunk.find('\n');
            const size_t take = std::min(newline == std::string_view::npos ? chunk.size() : newline,
                                         kMaxLogLine - pending_.size());
            pending_.append(chunk.substr(0, take));
            chunk.remove_prefix(take);
            const bool ends_line = !chunk.empty() && chunk.front() == '\n';
            if (ends_line || pending_.size() == kMaxLogLine) {
                emit(on_line);
                if (ends_line) chunk.remove_prefix(1);
            }
        }
    }
    /// The last line, when the stream ended without a newline.
    template <typename OnLine>
    void finish(OnLine&& on_line) {
        if (!pending_.empty()) emit(on_line);
    }

  private:
    template <typename OnLine>
    void emit(OnLine& on_line) {
        if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
        on_line(std::string_view(pending_));
        pending_.clear();
    }
    std::string pending_;
};

/// One entry of a build's log: {"timestamp","stage","text"}; a line that is not JSON is all text.
struct LogEntry {
    std::string timestamp;
    std::string stage;
    std::string text;
};

LogEntry parse_log_line(std::string_view line) {
    const json entry = json::parse(line, nullptr, false);
    if (!entry.is_object()) return {{}, {}, std::string(line)};
    LogEntry out{string_field(entry, "timestamp"), string_field(entry, "stage"),
                 string_field(entry, "text")};
    while (!out.text.empty() && (out.text.back() == '\n' || out.text.back() == '\r'))
        out.text.pop_back();
    return out;
}

/// GET /system/builds/<id>; "build ID not found" for a 404.
json get_build(const GatewayClient& client, const std::string& id) {
    const auto response = client.request("GET", "/system/builds/" + percent_encode(id));
    if (response.status == 404) throw CliError("build " + id + " not found");
    expect_success(response, "cannot read build " + id, client);
    return parse_object(response.body, "build " + id);
}

// ---- faas up, building in the gateway ----------------------------------------------------------

/// One function's build in the gateway, from its submission to its end.
struct RemoteBuild {
    std::string function;
    std::string namespace_;
    std::string id;
    json record;  ///< The latest record the gateway gave.
    bool failed = false;
    std::string message;           ///< Why it failed before the gateway had a record of it.
    std::deque<std::string> tail;  ///< --quiet: the log's last lines, shown if it fails.
};

/// The X-Build-Deployment document: what `faas deploy` would send, minus the image (the gateway
/// makes it), plus the template and the build args.
json build_deployment(const Stack& stack, const FunctionSpec& fn, const DeployOverrides& overrides,
                      const BuildPlan& plan) {
    const FunctionSpec spec = apply_overrides(fn, overrides);
    auto environment = merged_environment(stack, fn);
    for (const auto& [key, value] : overrides.environment) environment.insert_or_assign(key, value);
    json document = deployment_json(spec, environment);
    document.erase("image");
    document["lang"] = plan.template_name;
    if (!plan.build_args.empty()) document["buildArgs"] = plan.build_args;
    return document;
}

/// Sends one context. A refusal that concerns every function (credentials, builds switched off)
/// is thrown; one about this function (its deployment, its size) becomes a failed RemoteBuild.
RemoteBuild submit_build(const GatewayClient& client, const BuildPlan& plan, const json& deployment,
                         LinePrinter& printer) {
    RemoteBuild build;
    build.function = plan.function;
    build.namespace_ = deployment.value("namespace", "");
    std::string archive;
    try {
        archive = write_archive(plan.context, true);
    } catch (const std::runtime_error& error) {
        throw CliError("cannot pack " + plan.context.lexically_normal().string() + ": " +
                       error.what());
    }
    // ensure_ascii: a header must stay ASCII, so any other character goes as \uXXXX.
    const std::string header = deployment.dump(-1, ' ', true);
    const auto response =
        client.request("POST", "/system/builds", archive,
                       {{"Content-Type", "application/gzip"}, {"X-Build-Deployment", header}});
    if (response.status == 401 || response.status == 501)
        expect_success(response, "cannot build " + plan.function + " in the gateway", client);
    try {
        expect_success(response, "cannot build " + plan.function + " in the gateway", client);
        build.record = parse_object(response.body, "the build of " + plan.function);
    } catch (const CliError& error) {
        build.failed = true;
        build.message = error.what();
        printer.print(plan.function, build.message);
        return build;
    }
    build.id = string_field(build.record, "id");
    printer.print(plan.function, "sent " + human_size(archive.size()) + ": build " + build.id +
                                     " (" + string_field(build.record, "version") + ") is " +
                                     string_field(build.record, "status"));
    return build;
}

/// Prints the build's log as it comes, then polls its record (every 500 ms) until it ends or
/// `deadline` passes: also when the log stream breaks, since the build goes on without it.
void follow_build(const GatewayClient& client, RemoteBuild& build, LinePrinter& printer,
                  Clock::time_point deadline, std::chrono::milliseconds timeout, bool quiet) {
    std::string stage = string_field(build.record, "status");
    auto announce = [&](const std::string& next) {
        if (next.empty() || next == stage) return;
        stage = next;
        if (!is_finished(next)) printer.print(build.function, next);
    };
    LineSplitter splitter;
    auto on_line = [&](std::string_view line) {
        if (line.empty()) return;
        const LogEntry entry = parse_log_line(line);
        announce(entry.stage);
        if (!quiet) {
            printer.print(build.function, entry.text);
            return;
        }
        build.tail.push_back(entry.text);
        if (build.tail.size() > kQuietTailLines) build.tail.pop_front();
    };
    bool timed_out = false;
    try {
        std::string error_body;
        client.stream(
            "GET", "/system/builds/" + percent_encode(build.id) + "/logs?follow=true",
            [&](std::string_view chunk) {
                splitter.feed(chunk, on_line);
                timed_out = Clock::now() >= deadline;
                return !timed_out;
            },
            &error_body);
        splitter.finish(on_line);
    } catch (const CliError& error) {
        printer.print(build.function, std::string("the build's log broke off (") + error.what() +
                                          "); following its status instead");
    }
    for (;;) {
        build.record = get_build(client, build.id);
        const std::string status = string_field(build.record, "status");
        announce(status);
        if (is_finished(status)) return;
        const auto now = Clock::now();
        if (timed_out || now >= deadline) {
            build.failed = true;
            build.message =
                "build " + build.id + " of " + build.function + " has not finished after " +
                human_duration(std::chrono::duration_cast<std::chrono::seconds>(timeout)) +
                " (it is " + status + "; faas builds logs " + build.id +
                " --follow, or faas builds cancel " + build.id + ")";
            printer.print(build.function, build.message);
            return;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - now));
    }
}

/// The closing line of one build; false when it did not end ready.
bool report_build(const GatewayClient& client, const RemoteBuild& build, LinePrinter& printer) {
    const std::string status = string_field(build.record, "status");
    const std::string version = string_field(build.record, "version");
    const auto seconds = build_seconds(build.record);
    const std::string took = seconds ? " in " + seconds_text(*seconds) : "";
    if (status == "ready") {
        printer.print(build.function, version + " is ready" + took + ": " +
                                          function_url(client, build.function, build.namespace_));
        return true;
    }
    if (status == "cancelled") {
        printer.print(build.function, "build " + build.id + " (" + version + ") was cancelled");
        return false;
    }
    for (const auto& line : build.tail) printer.print(build.function, line);
    const std::string error = string_field(build.record, "error");
    printer.print(build.function, version + " failed" +
                                      (seconds ? " after " + seconds_text(*seconds) : "") + ": " +
                                      (error.empty() ? "(the gateway gave no reason)" : error));
    return false;
}

}  // namespace

bool builds_in_gateway(Context& ctx, const ParsedArgs& args, const Stack& stack,
                       std::ostream& progress) {
    if (args.flag("remote-build")) return true;
    if (args.flag("skip-deploy")) return false;  // build and push only: no gateway involved
    const auto client = gateway_client(ctx, args, &stack);
    HttpResponse response;
    try {
        response = client.request("GET", "/system/info");
    } catch (const CliError&) {
        return false;  // not reachable now: the Docker build goes ahead and deploy says why
    }
    if (response.status != 200) return false;  // e.g. an OpenFaaS gateway without /system/info
    const json info = json::parse(response.body, nullptr, false);
    const json* provider =
        info.is_object() && info.contains("provider") ? &info["provider"] : nullptr;
    if (!provider || !provider->is_object() || string_field(*provider, "orchestration") != "local")
        return false;
    progress << "The gateway at " << client.base_url()
             << " runs functions as local processes, which cannot run Docker images: building "
                "there from source (as --remote-build).\n"
             << std::flush;
    return true;
}

int up_in_gateway(Context& ctx, const ParsedArgs& args, const Stack& stack,
                  const std::vector<const FunctionSpec*>& chosen, const BuildSettings& settings) {
    const bool as_json = args.flag("json");
    std::ostream& progress = as_json ? ctx.err : ctx.out;
    std::string ignored;
    size_t ignored_count = 0;
    for (const char* flag : kLocalOnlyFlags) {
        if (!args.has(flag)) continue;
        ignored += (ignored.empty() ? "--" : ", --") + std::string(flag);
        ++ignored_count;
    }
    if (ignored_count > 0)
        progress << "Note: " << ignored << (ignored_count == 1 ? " does" : " do")
                 << " not apply when the gateway builds; ignored.\n";
    const auto timeout = timeout_option(args, kDefaultBuildTimeout);
    const bool quiet = args.flag("quiet");
    const auto overrides = deploy_overrides(args);
    const auto client = gateway_client(ctx, args, &stack);
    LinePrinter printer(progress);

    // Every context is written before the first is sent: a missing handler or template stops
    // everything before the gateway starts anything.
    const auto roots = template_roots(ctx.env, ctx.exe_dir, stack.dir);
    std::vector<std::pair<BuildPlan, json>> plans;
    for (const FunctionSpec* fn : chosen) {
        if (fn->skip_build) {
            printer.print(fn->name, "skip_build: true, not built (deploy its image " + fn->image +
                                        " with faas deploy " + fn->name + ")");
            continue;
        }
        BuildPlan plan = plan_build(stack, *fn, roots, settings);
        printer.print(fn->name, "build context " + plan.context.lexically_normal().string() +
                                    " (template " + plan.template_name + ")");
        json deployment = build_deployment(stack, *fn, overrides, plan);
        plans.emplace_back(std::move(plan), std::move(deployment));
    }

    std::vector<RemoteBuild> builds;
    for (const auto& [plan, deployment] : plans)
        builds.push_back(submit_build(client, plan, deployment, printer));

    if (!args.flag("no-wait")) {
        const auto deadline = Clock::now() + timeout;
        run_parallel(builds.size(), std::min(builds.size(), kMaxFollowers), [&](size_t i) {
            if (!builds[i].failed)
                follow_build(client, builds[i], printer, deadline, timeout, quiet);
        });
    }
    std::string failed;
    json records = json::array();
    for (auto& build : builds) {
        bool ok = !build.failed;
        if (ok && args.flag("no-wait"))
            printer.print(build.function,
                          "not waiting: faas builds logs " + build.id + " --follow");
        else if (ok)
            ok = report_build(client, build, printer);
        if (!ok) failed += (failed.empty() ? "" : ", ") + build.function;
        records.push_back(build.record.is_object()
                              ? build.record
                              : json{{"function", build.function}, {"error", build.message}});
    }
    if (as_json) print_json(ctx.out, records);
    if (!failed.empty())
        throw CliError("the gateway's build failed for " + failed + " (see above)");
    return 0;
}

// ---- faas rollback -----------------------------------------------------------------------------

int run_rollback(Context& ctx, const ParsedArgs& args) {
    if (args.positionals().size() != 1) throw UsageError("rollback takes one function name");
    const std::string& name = args.positionals().front();
    const std::string ns = args.value("namespace").value_or("");
    const auto timeout = timeout_option(args, kDefaultRollbackTimeout);
    const auto client = client_for(ctx, args);
    const auto response = client.request(
        "POST", "/system/functions/" + percent_encode(name) + "/rollback" + namespace_query(ns));
    expect_success(response, "cannot roll back " + name, client);
    const json answer = parse_object(response.body, "rollback " + name);
    const std::string version = string_field(answer, "version");
    const std::string image = string_field(answer, "image");

    // Like deploy: done means the function runs that image, so `faas rollback && faas invoke`
    // reaches the old version.
    if (!args.flag("no-wait")) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto status = client.request(
                "GET", "/system/function/" + percent_encode(name) + namespace_query(ns));
            std::string shown = "not listed";
            if (status.status == 200) {
                const json state = json::parse(status.body, nullptr, false);
                const long long available =
                    state.is_object() ? json_count(state.value("availableReplicas", json())) : 0;
                const std::string running = state.is_object() ? string_field(state, "image") : "";
                if (available >= 1 && (image.empty() || same_image(image, running))) break;
                shown = std::to_string(available) + " available, image " + running;
            } else if (status.status != 404) {
                expect_success(status, "cannot read the status of " + name, client);
            }
            const auto now = Clock::now();
            if (now >= deadline)
                throw CliError(
                    name + " is not ready on " + version + " after " +
                    human_duration(std::chrono::duration_cast<std::chrono::seconds>(timeout)) +
                    ": " + shown + " (see faas logs " + name + ")");
            std::this_thread::sleep_for(
                std::min<Clock::duration>(kReadyPollInterval, deadline - now));
        }
    }
    if (args.flag("json")) {
        print_json(ctx.out, answer);
        return 0;
    }
    ctx.out << "Rolled back " << name << " to " << version << " (" << image << ")\n";
    return 0;
}

// ---- faas builds list | get | logs | cancel ----------------------------------------------------

namespace {

std::string the_build_id(const ParsedArgs& args, std::string_view command) {
    if (args.positionals().size() != 1)
        throw UsageError("builds " + std::string(command) + " takes one build id");
    return args.positionals().front();
}

std::string age_text(const json& record) {
    const auto created = parse_rfc3339(string_field(record, "createdAt"));
    if (!created) return "";
    return human_duration(std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now() - *created));
}

std::string one_line(std::string text, size_t limit) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
    return text;
}

void print_entry(std::ostream& out, const std::string& key, const std::string& value) {
    std::string label = key + ":";
    label.resize(std::max<size_t>(12, label.size() + 1), ' ');
    out << label << value << '\n';
}

}  // namespace

int run_builds_list(Context& ctx, const ParsedArgs& args) {
    if (!args.positionals().empty()) throw UsageError("builds list takes no arguments");
    std::string query;
    auto add = [&](const std::string& key, const std::string& value) {
        query += (query.empty() ? "?" : "&") + key + "=" + percent_encode(value);
    };
    if (auto fn = args.value("function"); fn && !fn->empty()) add("function", *fn);
    if (auto limit = args.number("limit", 1, 1000)) add("limit", std::to_string(*limit));
    if (auto ns = args.value("namespace"); ns && !ns->empty()) add("namespace", *ns);
    const auto client = client_for(ctx, args);
    const auto response = client.request("GET", "/system/builds" + query);
    expect_success(response, "cannot list builds", client);
    const json records = json::parse(response.body, nullptr, false);
    if (!records.is_array()) throw CliError("the gateway's build list is not a JSON array");
    if (args.flag("json")) {
        print_json(ctx.out, records);
        return 0;
    }
    Table table({"ID", "Function", "Version", "Status", "Age", "Duration", "Error"});
    for (const auto& record : records) {
        if (!record.is_object()) continue;
        const auto seconds = build_seconds(record);
        table.add_row({string_field(record, "id"), string_field(record, "function"),
                       string_field(record, "version"), string_field(record, "status"),
                       age_text(record), seconds ? seconds_text(*seconds) : "-",
                       one_line(string_field(record, "error"), kMaxErrorColumn)});
    }
    table.print(ctx.out);
    return 0;
}

int run_builds_get(Context& ctx, const ParsedArgs& args) {
    const std::string id = the_build_id(args, "get");
    const auto client = client_for(ctx, args);
    const json record = get_build(client, id);
    if (args.flag("json")) {
        print_json(ctx.out, record);
        return 0;
    }
    auto& out = ctx.out;
    auto time_text = [&](const char* key) {
        const std::string text = string_field(record, key);
        const auto time = parse_rfc3339(text);
        return time ? human_time(*time) : text;
    };
    print_entry(out, "ID", string_field(record, "id"));
    print_entry(out, "Function", string_field(record, "function"));
    if (const auto ns = string_field(record, "namespace"); !ns.empty())
        print_entry(out, "Namespace", ns);
    print_entry(out, "Version", string_field(record, "version"));
    print_entry(out, "Status", string_field(record, "status"));
    print_entry(out, "Lang", string_field(record, "lang"));
    print_entry(out, "Image", string_field(record, "image"));
    print_entry(out, "Source", string_field(record, "source"));
    print_entry(out, "Created", time_text("createdAt"));
    if (record.contains("finishedAt")) print_entry(out, "Finished", time_text("finishedAt"));
    if (const auto seconds = build_seconds(record))
        print_entry(out, "Duration", seconds_text(*seconds));
    std::string stages;
    if (const auto it = record.find("stages"); it != record.end() && it->is_array()) {
        for (const auto& stage : *it) {
            if (!stage.is_object()) continue;
            stages += (stages.empty() ? "" : ", ") + string_field(stage, "stage");
            if (const auto s = stage.find("seconds"); s != stage.end() && s->is_number())
                stages += " " + seconds_text(s->get<double>());
        }
    }
    print_entry(out, "Stages", stages);
    if (const auto error = string_field(record, "error"); !error.empty())
        print_entry(out, "Error", error);
    return 0;
}

int run_builds_logs(Context& ctx, const ParsedArgs& args) {
    const std::string id = the_build_id(args, "logs");
    const bool raw = args.flag("json");
    const auto client = client_for(ctx, args);
    LineSplitter splitter;
    auto on_line = [&](std::string_view line) {
        if (line.empty()) return;
        if (raw) {
            ctx.out << line << '\n';
            return;
        }
        const LogEntry entry = parse_log_line(line);
        if (entry.timestamp.empty() && entry.stage.empty())
            ctx.out << entry.text << '\n';  // not what the API sends: shown as it came
        else
            ctx.out << entry.timestamp << ' ' << entry.stage << ' ' << entry.text << '\n';
    };
    std::string error_body;
    const long status = client.stream(
        "GET",
        "/system/builds/" + percent_encode(id) + "/logs" +
            (args.flag("follow") ? "?follow=true" : ""),
        [&](std::string_view chunk) {
            splitter.feed(chunk, on_line);
            ctx.out.flush();
            return static_cast<bool>(ctx.out);  // stdout closed (| head): stop
        },
        &error_body);
    if (status == 404) throw CliError("build " + id + " not found");
    HttpResponse response;
    response.status = status;
    response.body = std::move(error_body);
    expect_success(response, "cannot read the log of build " + id, client);
    splitter.finish(on_line);
    ctx.out.flush();
    return 0;
}

int run_builds_cancel(Context& ctx, const ParsedArgs& args) {
    const std::string id = the_build_id(args, "cancel");
    const auto client = client_for(ctx, args);
    const auto response = client.request("DELETE", "/system/builds/" + percent_encode(id));
    if (response.status == 404) throw CliError("build " + id + " not found");
    expect_success(response, "cannot cancel build " + id, client);
    const json record = parse_object(response.body, "cancel " + id);
    if (args.flag("json")) {
        print_json(ctx.out, record);
        return 0;
    }
    const std::string what =
        string_field(record, "function") + " " + string_field(record, "version");
    if (string_field(record, "status") == "cancelled")
        ctx.out << "Cancelled build " << id << " (" << what << ").\n";
    else
        ctx.out << "Cancelling build " << id << " (" << what << ", "
                << string_field(record, "status") << ").\n";
    return 0;
}

}  // namespace faas::cli
