// The local builder: check the gateway's template and the host, move the context into a
// working folder, run the template's install and test commands there (each under sh, in the
// folder's own process group, stopped when the build is), then publish the folder under its
// version's name with a manifest. A failure at any point removes the working folder.
#include "build/local_builder.h"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "build/dependency_reuse.h"
#include "errors.h"
#include "subprocess.h"
#include "time_format.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// The working folder's sub-folder that TMPDIR and HOME point to while the steps run.
constexpr const char* kBuildTempFolder = ".build-tmp";
/// Where sh looks when the environment has no PATH (dash's default).
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The shell every command runs under: /bin/sh, not "sh", because posix_spawnp would look "sh"
/// up on the gateway's PATH rather than on the one the step gets.
constexpr const char* kShell = "/bin/sh";

/// A lang names one folder of templates_dir: nothing that could walk out of it.
bool is_folder_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

/// Is `program` an executable file in one of PATH's folders?
bool on_path(const std::string& program, const std::string& path) {
    size_t start = 0;
    while (start <= path.size()) {
        const size_t end = std::min(path.find(':', start), path.size());
        const std::string folder = path.substr(start, end - start);
        start = end + 1;
        if (folder.empty()) continue;  // "the current folder": never the gateway's.
        const fs::path candidate = fs::path(folder) / program;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0)
            return true;
    }
    return false;
}

/// The template folders of `dir` (sub-folders holding template.yml), sorted, joined by ", ".
std::string known_langs(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::error_code entry_ec;
        if (entry.is_directory(entry_ec) &&
            fs::is_regular_file(entry.path() / kTemplateFileName, entry_ec))
            names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
    return joined.empty() ? "none" : joined;
}

/// One line for a message: a command written over several lines in template.yml.
std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

/// The last non-empty line of `output` (what a failing check said last).
std::string last_line(std::string_view output) {
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
        output.remove_suffix(1);
    const auto newline = output.rfind('\n');
    return std::string(newline == std::string_view::npos ? output : output.substr(newline + 1));
}

/// The working folder of a build: removed with everything in it unless the build published it.
class WorkFolder {
  public:
    explicit WorkFolder(fs::path path) : path_(std::move(path)) {}
    ~WorkFolder() {
        if (path_.empty()) return;
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    WorkFolder(const WorkFolder&) = delete;
    WorkFolder& operator=(const WorkFolder&) = delete;
    const fs::path& path() const { return path_; }
    void release() { path_.clear(); }

  private:
    fs::path path_;
};

/// Moves the context to `work` (a rename: the build manager gives the context up), copying it
/// when the two are on different file systems.
void take_context(const fs::path& context, const fs::path& work) {
    std::error_code ec;
    if (fs::symlink_status(context, ec).type() != fs::file_type::directory)
        throw BuildFailed("the build context " + context.string() + " is not a folder");
    fs::rename(context, work, ec);
    if (!ec) return;
    std::error_code copy_ec;
    fs::create_directories(work, copy_ec);
    if (!copy_ec)
        fs::copy(context, work, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
                 copy_ec);
    if (copy_ec)
        throw BuildFailed("cannot move the build context to " + work.string() + ": " +
                          copy_ec.message());
    fs::remove_all(context, ec);
}

/// Runs one install or test command in `work`; every output line goes to the build's log.
void run_step(const std::string& what, const std::string& command, const fs::path& work,
              const std::map<std::string, std::string>& env, BuildProgress& progress) {
    if (progress.stop_requested()) throw BuildStopped("the build was stopped");
    // The log shows what runs, line by line for a command written over several lines.
    std::string_view rest = command;
    while (!rest.empty()) {
        const auto newline = rest.find('\n');
        progress.line("> " + std::string(rest.substr(0, newline)));
        rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    }
    ProcessOptions options;
    options.working_dir = work;
    options.environment = env;
    options.inherit_environment = false;
    options.on_line = [&](std::string_view line) { progress.line(line); };
    options.keep_going = [&] { return !progress.stop_requested(); };
    ProcessResult result;
    try {
        result = run_process({kShell, "-c", command}, options);
    } catch (const SpawnError& error) {
        throw BuildFailed("cannot run the " + what + " `" + one_line(command) +
                          "`: " + error.what());
    }
    if (result.stopped)
        throw BuildStopped("the build was stopped during the " + what + " `" + one_line(command) +
                           "`");
    if (result.exit_code != 0)
        throw BuildFailed(what + " `" + one_line(command) + "` failed with exit status " +
                          std::to_string(result.exit_code));
}

/// Links what the function's newest version of the same lang installed when the template's
/// dependency files did not change since; true when it did, and the install steps are skipped.
bool reuse_dependencies(const LocalImages& images, const BuildJob& job, const LocalRecipe& recipe,
                        const fs::path& work, BuildProgress& progress) {
    if (!recipe.dependencies || recipe.install.empty()) return false;
    const auto versions = images.versions(job.function);
    const auto previous =
        std::find_if(versions.rbegin(), versions.rend(), [&](const LocalImage& version) {
            return version.lang == job.lang && version.install_steps == recipe.install;
        });
    if (previous == versions.rend()) return false;
    const std::string version = previous->image.substr(previous->image.find(':') + 1);
    if (const auto changed = first_changed_file(*recipe.dependencies, previous->dir, work)) {
        progress.line("> " + *changed + " changed since " + version + ": installing");
        return false;
    }
    try {
        link_installed(*recipe.dependencies, previous->dir, work);
    } catch (const fs::filesystem_error& error) {
        progress.line(std::string("> cannot reuse the dependencies of ") + version + " (" +
                      error.what() + "): installing");
        for (const auto& installed : recipe.dependencies->installed) {
            std::error_code ec;
            fs::remove_all(work / installed, ec);
        }
        return false;
    }
    std::string files;
    for (const auto& file : recipe.dependencies->files) files += (files.empty() ? "" : ", ") + file;
    progress.line("> dependencies unchanged since " + version + " (" + files +
                  "): reusing what it installed; install steps skipped");
    return true;
}

}  // namespace

LocalBuilder::LocalBuilder(LocalBuilderOptions options)
    : options_(std::move(options)), images_(options_.images_root) {}

TemplateInfo LocalBuilder::usable_template(const std::string& lang) const {
    const fs::path dir = options_.templates_dir / lang;
    std::error_code ec;
    if (!is_folder_name(lang) || !fs::is_regular_file(dir / kTemplateFileName, ec))
        throw BadRequest("unknown lang '" + lang +
                         "' (known: " + known_langs(options_.templates_dir) + ")");
    TemplateInfo tmpl;
    try {
        tmpl = read_template(dir);
    } catch (const TemplateError& error) {
        throw ProviderUnavailable("the gateway's template " + lang +
                                  " cannot be read: " + error.what());
    }
    if (!tmpl.local)
        throw BadRequest("the " + lang +
                         " template cannot run without Docker: its template.yml has no local: "
                         "section, and this gateway's provider runs functions as local processes");
    {
        std::lock_guard lock(checked_mutex_);
        const auto passed = checked_.find(lang);
        if (passed != checked_.end() && Clock::now() - passed->second < options_.check_cache_for)
            return tmpl;
    }
    const auto path = options_.base_env.find("PATH");
    const std::string search = path != options_.base_env.end() ? path->second : kDefaultPath;
    for (const auto& program : tmpl.local->required_programs) {
        if (!on_path(program, search))
            throw BadRequest(program + " is not installed on the gateway's host (needed by the " +
                             lang + " template)");
    }
    if (!tmpl.local->check.empty()) run_check_command(tmpl);
    std::lock_guard lock(checked_mutex_);
    checked_[lang] = Clock::now();
    return tmpl;
}

void LocalBuilder::run_check_command(const TemplateInfo& tmpl) const {
    const LocalRecipe& recipe = *tmpl.local;
    ProcessOptions options;
    options.working_dir = tmpl.dir;
    options.environment = options_.base_env;
    for (const auto& [name, value] : recipe.environment) options.environment[name] = value;
    options.inherit_environment = false;
    const auto deadline = Clock::now() + options_.check_timeout;
    options.keep_going = [deadline] { return Clock::now() < deadline; };
    ProcessResult result;
    try {
        result = run_process({kShell, "-c", recipe.check}, options);
    } catch (const SpawnError& error) {
        throw ProviderUnavailable(std::string("cannot check the ") + tmpl.name +
                                  " template: " + error.what());
    }
    if (result.exit_code == 0 && !result.stopped) return;
    const std::string what =
        "the " + tmpl.name + " template's check `" + one_line(recipe.check) + "`" +
        (result.stopped
             ? " did not finish within " + std::to_string(options_.check_timeout.count()) + " s"
             : " failed with exit status " + std::to_string(result.exit_code));
    if (!recipe.check_hint.empty()) {
        throw BadRequest(result.stopped ? recipe.check_hint + " (" + what + ")"
                                        : recipe.check_hint);
    }
    const std::string said = last_line(result.output);
    throw BadRequest(what + (said.empty() ? "" : ": " + said));
}

void LocalBuilder::check(const std::string& lang) const {
    usable_template(lang);
}

std::string LocalBuilder::build(const BuildJob& job, BuildProgress& progress) {
    TemplateInfo tmpl;
    try {
        tmpl = usable_template(job.lang);
    } catch (const BadRequest& error) {
        throw BuildFailed(error.what());
    } catch (const ProviderUnavailable& error) {
        throw BuildFailed(error.what());
    }
    const LocalRecipe& recipe = *tmpl.local;
    const std::string fprocess = recipe.fprocess.empty() ? tmpl.fprocess : recipe.fprocess;
    if (fprocess.empty())
        throw BuildFailed("the " + job.lang + " template names no fprocess to run");

    fs::path final_dir;
    try {
        final_dir = images_.dir_for(job.function, job.version);
    } catch (const std::invalid_argument& error) {
        throw BuildFailed(error.what());
    }
    const std::string image = job.function + ":" + job.version;
    std::error_code ec;
    // Versions only grow: a folder of this version is a build that was published before, which
    // a deployment may run from. It is never replaced.
    if (fs::exists(fs::symlink_status(final_dir, ec)))
        throw BuildFailed("version " + job.version + " of " + job.function + " exists already (" +
                          final_dir.string() + ")");
    WorkFolder work(fs::path(final_dir) += ".tmp");
    fs::remove_all(work.path(), ec);  // Left by a gateway that stopped mid-build.
    fs::create_directories(final_dir.parent_path(), ec);
    if (ec)
        throw BuildFailed("cannot create " + final_dir.parent_path().string() + ": " +
                          ec.message());
    take_context(job.context_dir, work.path());

    // The context is untrusted: whatever it holds under the temporary folder's name goes.
    const fs::path build_temp = work.path() / kBuildTempFolder;
    fs::remove_all(build_temp, ec);
    fs::create_directory(build_temp, ec);
    if (ec) throw BuildFailed("cannot create " + build_temp.string() + ": " + ec.message());
    std::map<std::string, std::string> env = options_.base_env;
    for (const auto& [name, value] : recipe.environment) env[name] = value;
    env["TMPDIR"] = build_temp.string();
    env["HOME"] = build_temp.string();

    if (!reuse_dependencies(images_, job, recipe, work.path(), progress)) {
        for (const auto& command : recipe.install)
            run_step("install step", command, work.path(), env, progress);
    }
    if (!recipe.test.empty()) {
        const auto enabled = job.build_args.find("TEST_ENABLED");
        if (enabled != job.build_args.end() && enabled->second == "false")
            progress.line("> (test skipped: TEST_ENABLED=false)");
        else
            run_step("test", recipe.test, work.path(), env, progress);
    }
    if (progress.stop_requested()) throw BuildStopped("the build was stopped");
    // Caches of pip, npm or go: not needed to run, and they can be large.
    fs::remove_all(build_temp, ec);

    LocalImage built;
    built.image = image;
    built.dir = work.path();
    built.fprocess = fprocess;
    built.env = recipe.environment;
    built.lang = job.lang;
    built.built_at = rfc3339_now();
    built.install_steps = recipe.install;
    try {
        images_.write_manifest(built);
    } catch (const std::exception& error) {
        throw BuildFailed(std::string("cannot write the image manifest: ") + error.what());
    }
    fs::rename(work.path(), final_dir, ec);
    if (ec)
        throw BuildFailed("cannot move " + work.path().string() + " to " + final_dir.string() +
                          ": " + ec.message());
    work.release();
    return image;
}

void LocalBuilder::forget(const std::string& image) noexcept {
    images_.remove(image);
}

}  // namespace faas::gateway
