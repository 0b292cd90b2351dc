// Build contexts, docker command lines, and the parallel runner for builds and pushes.
#include "image_builder.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <ostream>
#include <thread>

#include "cli_error.h"
#include "subprocess.h"

namespace faas::cli {
namespace fs = std::filesystem;
namespace {

/// Lines of a failed quiet build shown, so the error is visible without the whole log.
constexpr size_t kQuietTailLines = 30;

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

/// A path as the user would write it: relative to the current folder when it is below it.
std::string display_path(const fs::path& path) {
    const fs::path normal = path.lexically_normal();
    return normal.empty() ? "." : normal.string();
}

/// Copies `from` into `to` (created), keeping symlinks as links and leaving out `exclude` (the
/// build folder, when a handler is the stack's own folder).
void copy_tree(const fs::path& from, const fs::path& to, const fs::path& exclude) {
    fs::create_directories(to);
    std::error_code ec;
    auto it = fs::recursive_directory_iterator(from, fs::directory_options::none, ec);
    if (ec) throw CliError("cannot read " + from.string() + ": " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) throw CliError("cannot read " + from.string() + ": " + ec.message());
        const fs::path source = it->path();
        std::error_code same_ec;
        if (!exclude.empty() && fs::equivalent(source, exclude, same_ec)) {
            it.disable_recursion_pending();
            continue;
        }
        const fs::path target = to / fs::relative(source, from);
        std::error_code copy_ec;
        if (it->is_symlink(copy_ec)) {
            it.disable_recursion_pending();
            fs::copy_symlink(source, target, copy_ec);
        } else if (it->is_directory(copy_ec)) {
            fs::create_directories(target, copy_ec);
        } else {
            fs::copy_file(source, target, fs::copy_options::overwrite_existing, copy_ec);
        }
        if (copy_ec)
            throw CliError("cannot copy " + source.string() + " to " + target.string() + ": " +
                           copy_ec.message());
    }
}

void print_block(LinePrinter& printer, const std::string& name,
                 const std::deque<std::string>& lines) {
    for (const auto& line : lines) printer.print(name, line);
}

}  // namespace

fs::path handler_path(const Stack& stack, const FunctionSpec& fn) {
    const fs::path handler =
        (fs::path(fn.handler).is_absolute() ? fs::path(fn.handler) : stack.dir / fn.handler)
            .lexically_normal();
    std::error_code ec;
    if (fn.handler.empty() || !fs::exists(handler, ec)) {
        std::string message = "handler folder " +
                              (fn.handler.empty() ? std::string("(none)") : fn.handler) +
                              " for function " + fn.name + " not found";
        if (stack.dir != "." && !fn.handler.empty())
            message += " (looked in " + display_path(handler) + ")";
        throw CliError(message);
    }
    if (!fs::is_directory(handler, ec))
        throw CliError("handler " + fn.handler + " for function " + fn.name +
                       " is a file, not a folder");
    return handler;
}

fs::path shrinkwrap(const Stack& stack, const FunctionSpec& fn, const TemplateInfo& tmpl) {
    const fs::path handler = handler_path(stack, fn);
    const fs::path build_root = (stack.dir / "build").lexically_normal();
    const fs::path context = build_root / fn.name;
    std::error_code ec;
    fs::remove_all(context, ec);
    if (ec) throw CliError("cannot clear " + display_path(context) + ": " + ec.message());
    copy_tree(tmpl.dir, context, {});
    fs::remove_all(context / tmpl.handler_folder, ec);
    copy_tree(handler, context / tmpl.handler_folder, build_root);
    return context;
}

std::map<std::string, std::string> build_args_for(const FunctionSpec& fn, const TemplateInfo* tmpl,
                                                  const BuildSettings& settings) {
    std::map<std::string, std::string> args = fn.build_args;
    for (const auto& [key, value] : settings.build_args) args[key] = value;
    std::vector<std::string> options = fn.build_options;
    options.insert(options.end(), settings.build_options.begin(), settings.build_options.end());
    if (options.empty()) return args;
    if (!tmpl)
        throw CliError("function " + fn.name + " uses build options, but lang " + fn.lang +
                       " has no template to take them from");
    const std::string packages = additional_packages(*tmpl, options);
    if (!packages.empty()) {
        std::string& value = args["ADDITIONAL_PACKAGE"];
        value = value.empty() ? packages : value + " " + packages;
    }
    return args;
}

BuildPlan plan_build(const Stack& stack, const FunctionSpec& fn,
                     const std::vector<TemplateRoot>& roots, const BuildSettings& settings) {
    BuildPlan plan;
    plan.function = fn.name;
    plan.image = fn.image;
    plan.template_name = fn.lang;
    plan.no_cache = settings.no_cache;
    if (fn.lang == kDockerfileLanguage) {
        // The handler folder is the whole context: its own Dockerfile says how to build it.
        plan.context = handler_path(stack, fn);
        std::error_code ec;
        if (!fs::is_regular_file(plan.context / "Dockerfile", ec))
            throw CliError("function " + fn.name + " (lang dockerfile) has no Dockerfile in " +
                           fn.handler);
        plan.build_args = build_args_for(fn, nullptr, settings);
        return plan;
    }
    const TemplateInfo tmpl = require_template(roots, fn.lang);
    validate_template(tmpl.dir);
    plan.build_args =
        build_args_for(fn, &tmpl, settings);  // Before writing: a bad option writes nothing.
    plan.context = shrinkwrap(stack, fn, tmpl);
    return plan;
}

std::vector<std::string> docker_build_argv(const BuildPlan& plan) {
    std::vector<std::string> argv = {"docker", "build", "--pull=false", "-t", plan.image};
    if (plan.no_cache) argv.emplace_back("--no-cache");
    for (const auto& [key, value] : plan.build_args) {
        argv.emplace_back("--build-arg");
        argv.push_back(key + "=" + value);
    }
    argv.push_back(plan.context.string());
    return argv;
}

std::vector<std::string> docker_push_argv(const std::string& image) {
    return {"docker", "push", image};
}

std::map<std::string, std::string> docker_build_environment() {
    return {{"DOCKER_BUILDKIT", "0"}};
}

bool is_library_image(const std::string& image) {
    return image.find('/') == std::string::npos;
}

void require_docker() {
    ProcessResult result;
    try {
        result = run_process({"docker", "info", "--format", "{{.ServerVersion}}"});
    } catch (const SpawnError& error) {
        throw CliError(std::string("Docker is needed to build and push, but ") + error.what());
    }
    std::string detail = result.output;
    while (!detail.empty() &&
           (detail.back() == '\n' || detail.back() == '\r' || detail.back() == ' '))
        detail.pop_back();
    if (result.exit_code != 0 || detail.empty()) {
        // docker info prints the client's part first; the daemon's complaint is the last line.
        if (const auto last = detail.rfind('\n'); last != std::string::npos)
            detail = detail.substr(last + 1);
        throw CliError(
            "Docker is not running (docker info: " + (detail.empty() ? "no answer" : detail) +
            "); start it, or check that you may use /var/run/docker.sock");
    }
}

void LinePrinter::print(std::string_view name, std::string_view text) {
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << '[' << name << "] " << text << '\n';
    out_.flush();
}

StepOutcome run_docker_build(const BuildPlan& plan, LinePrinter& printer, bool quiet) {
    StepOutcome outcome;
    outcome.function = plan.function;
    outcome.image = plan.image;
    const auto start = std::chrono::steady_clock::now();
    std::deque<std::string> tail;
    ProcessOptions options;
    options.environment = docker_build_environment();
    options.on_line = [&](std::string_view line) {
        if (!quiet) {
            printer.print(plan.function, line);
            return;
        }
        tail.emplace_back(line);
        if (tail.size() > kQuietTailLines) tail.pop_front();
    };
    const ProcessResult result = run_process(docker_build_argv(plan), options);
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    outcome.ok = result.exit_code == 0;
    if (outcome.ok) {
        printer.print(plan.function,
                      "built " + plan.image + " in " + seconds_text(outcome.seconds));
    } else {
        if (quiet) print_block(printer, plan.function, tail);
        outcome.message = "docker build exited with status " + std::to_string(result.exit_code);
        printer.print(plan.function, "build failed after " + seconds_text(outcome.seconds) + ": " +
                                         outcome.message);
    }
    return outcome;
}

StepOutcome run_docker_push(const FunctionSpec& fn, LinePrinter& printer) {
    StepOutcome outcome;
    outcome.function = fn.name;
    outcome.image = fn.image;
    // "user/hello" is a Docker Hub account's and is pushed; "hello" never could be.
    if (is_library_image(fn.image)) {
        outcome.ok = true;
        outcome.skipped = true;
        outcome.message =
            "not pushed: " + fn.image +
            " names no registry, so it would go to Docker Hub's library; prefix the image with a "
            "registry (e.g. 127.0.0.1:5000/" +
            fn.image + "), or use --skip-push on a single node";
        printer.print(fn.name, "warning: " + outcome.message);
        return outcome;
    }
    const auto start = std::chrono::steady_clock::now();
    ProcessOptions options;
    options.on_line = [&](std::string_view line) { printer.print(fn.name, line); };
    printer.print(fn.name, "pushing " + fn.image);
    const ProcessResult result = run_process(docker_push_argv(fn.image), options);
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    outcome.ok = result.exit_code == 0;
    if (outcome.ok) {
        printer.print(fn.name, "pushed " + fn.image + " in " + seconds_text(outcome.seconds));
    } else {
        outcome.message = "docker push exited with status " + std::to_string(result.exit_code);
        std::string hint;
        const std::string first = fn.image.substr(0, fn.image.find('/'));
        if (first.find_first_of(".:") == std::string::npos && first != "localhost")
            hint = " (" + fn.image +
                   " goes to Docker Hub; to use a registry of your own, prefix the image with it, "
                   "e.g. "
                   "127.0.0.1:5000/" +
                   fn.image + ", or use --skip-push on a single node)";
        printer.print(fn.name, "push failed: " + outcome.message + hint);
    }
    return outcome;
}

void run_parallel(size_t count, size_t parallel, const std::function<void(size_t)>& work) {
    if (parallel < 1) parallel = 1;
    std::atomic<size_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto worker = [&] {
        for (size_t i = next++; i < count; i = next++) {
            try {
                work(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
            }
        }
    };
    const size_t threads = std::min(parallel, count);
    if (threads <= 1) {
        worker();
    } else {
        std::vector<std::jthread> pool;
        for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    }  // jthreads join here.
    if (first_error) std::rethrow_exception(first_error);
}

}  // namespace faas::cli
