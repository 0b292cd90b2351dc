// Turning a stack's functions into images: the build context (build/<fn>/ = the template with
// the function's handler in its handler folder, or the handler folder itself for the dockerfile
// language), the `docker build` and `docker push` command lines, and running them for several
// functions at once with each output line prefixed by the function's name.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stack_file.h"
#include "templates.h"

namespace faas::cli {

/// What the build command line adds to every function's build.
struct BuildSettings {
    bool no_cache = false;
    std::map<std::string, std::string> build_args;  ///< --build-arg KEY=VALUE, over the stack's.
    std::vector<std::string> build_options;         ///< --build-option NAME, after the stack's.
};

/// Everything `docker build` needs for one function.
struct BuildPlan {
    std::string function;
    std::string image;
    std::string template_name;      ///< The lang; "dockerfile" when the handler is the context.
    std::filesystem::path context;  ///< The folder sent to Docker.
    std::map<std::string, std::string> build_args;
    bool no_cache = false;
};

/// The function's handler folder (resolved against the stack's folder); CliError "handler folder
/// ./x for function y not found" when it is missing.
std::filesystem::path handler_path(const Stack& stack, const FunctionSpec& fn);

/// Writes <stack dir>/build/<fn>/: a fresh copy of the template with its handler folder replaced
/// by the function's handler. Returns the folder.
std::filesystem::path shrinkwrap(const Stack& stack, const FunctionSpec& fn,
                                 const TemplateInfo& tmpl);

/// The build args of one function: the stack's build_args, then --build-arg over them, then
/// ADDITIONAL_PACKAGE from the template's build options chosen by the function's build_options
/// and --build-option (added to any ADDITIONAL_PACKAGE given). `tmpl` is null for dockerfile.
std::map<std::string, std::string> build_args_for(const FunctionSpec& fn, const TemplateInfo* tmpl,
                                                  const BuildSettings& settings);

/// Prepares one function's build: finds its template, checks the handler, writes the context
/// (shrinkwrap) and collects the build args. Throws CliError for anything a user must fix.
BuildPlan plan_build(const Stack& stack, const FunctionSpec& fn,
                     const std::vector<TemplateRoot>& roots, const BuildSettings& settings);

/// docker build --pull=false -t IMAGE [--no-cache] [--build-arg K=V ...] CONTEXT
std::vector<std::string> docker_build_argv(const BuildPlan& plan);

/// docker push IMAGE
std::vector<std::string> docker_push_argv(const std::string& image);

/// The environment `docker build` runs with: the classic builder (the engine here has no buildx).
std::map<std::string, std::string> docker_build_environment();

/// Is the image one without a registry or account ("hello:latest")? Pushing it would mean Docker
/// Hub's library (docker.io/library/hello), where only Docker may push: push skips it and says why.
bool is_library_image(const std::string& image);

/// Throws CliError unless the docker binary is there and its daemon answers (`docker info`).
void require_docker();

/// Writes whole lines to a stream shared by several threads, each prefixed "[name] ".
class LinePrinter {
  public:
    explicit LinePrinter(std::ostream& out) : out_(out) {}
    void print(std::string_view name, std::string_view text);

  private:
    std::ostream& out_;
    std::mutex mutex_;
};

/// How one function's build or push ended.
struct StepOutcome {
    std::string function;
    std::string image;
    bool ok = false;
    bool skipped = false;
    double seconds = 0;
    std::string message;  ///< Why it failed or was skipped.
};

/// Runs `docker build` for `plan`, printing its output (unless `quiet`; then only the last lines
/// of a failed build) and a closing line through `printer`.
StepOutcome run_docker_build(const BuildPlan& plan, LinePrinter& printer, bool quiet);

/// Runs `docker push` for one function's image; a library image (is_library_image) is skipped
/// with a warning saying why.
StepOutcome run_docker_push(const FunctionSpec& fn, LinePrinter& printer);

/// Calls `work(i)` for i in [0, count), at most `parallel` at a time, on threads; an exception
/// from `work` is rethrown after every started call has finished.
void run_parallel(size_t count, size_t parallel, const std::function<void(size_t)>& work);

}  // namespace faas::cli
