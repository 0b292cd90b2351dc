// Finding templates, reading template.yml (common's read_template, failures as CliError), and
// copying templates from a folder or a git repository into the project's ./template/.
#include "templates.h"

#include <stdlib.h>

#include <algorithm>
#include <set>

#include "cli_error.h"
#include "subprocess.h"

namespace faas::cli {
namespace fs = std::filesystem;
namespace {

/// A temporary folder removed with everything in it.
class TempFolder {
  public:
    TempFolder() {
        std::string pattern = (fs::temp_directory_path() / "faas-template-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            throw CliError("cannot create a temporary folder in " +
                           fs::temp_directory_path().string());
        path_ = pattern;
    }
    ~TempFolder() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

/// The template folders directly under `dir`: sub-folders holding template.yml, sorted by name.
std::vector<fs::path> template_folders(const fs::path& dir) {
    std::vector<fs::path> folders;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::error_code entry_ec;
        if (entry.is_directory(entry_ec) &&
            fs::is_regular_file(entry.path() / kTemplateFileName, entry_ec))
            folders.push_back(entry.path());
    }
    std::sort(folders.begin(), folders.end());
    return folders;
}

std::string clone_git_source(const std::string& source, const fs::path& into) {
    std::string url = source;
    std::string ref;
    if (const auto hash = url.rfind('#'); hash != std::string::npos) {
        ref = url.substr(hash + 1);
        url.resize(hash);
    }
    std::vector<std::string> argv = {"git", "clone", "--depth", "1"};
    if (!ref.empty()) {
        argv.push_back("--branch");
        argv.push_back(ref);
    }
    argv.push_back("--");
    argv.push_back(url);
    argv.push_back(into.string());
    ProcessOptions options;
    options.environment["GIT_TERMINAL_PROMPT"] = "0";  // Fail instead of asking for a password.
    ProcessResult result;
    try {
        result = run_process(argv, options);
    } catch (const SpawnError& error) {
        throw CliError("cannot pull " + source + ": git is not installed (" + error.what() + ")");
    }
    if (result.exit_code != 0) {
        std::string detail = result.output;
        while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r'))
            detail.pop_back();
        if (const auto last = detail.rfind('\n'); last != std::string::npos)
            detail = detail.substr(last + 1);
        throw CliError("git clone " + source + " failed: " + detail);
    }
    return url;
}

}  // namespace

std::vector<TemplateRoot> template_roots(const Env& env, const fs::path& exe_dir,
                                         const fs::path& project_dir) {
    std::vector<TemplateRoot> candidates;
    candidates.push_back({project_dir / "template", "project"});
    if (auto dir = env.get("FAAS_TEMPLATES"); dir && !dir->empty())
        candidates.push_back({*dir, "FAAS_TEMPLATES"});
    if (!exe_dir.empty())
        candidates.push_back({exe_dir / ".." / "share" / "faas" / "templates", "installed"});
#ifdef FAAS_SOURCE_TEMPLATES
    candidates.push_back({FAAS_SOURCE_TEMPLATES, "source"});
#endif
    std::vector<TemplateRoot> roots;
    for (auto& candidate : candidates) {
        std::error_code ec;
        if (!fs::is_directory(candidate.dir, ec)) continue;
        candidate.dir = candidate.dir.lexically_normal();
        const bool seen = std::any_of(roots.begin(), roots.end(), [&](const TemplateRoot& root) {
            std::error_code same_ec;
            return fs::equivalent(root.dir, candidate.dir, same_ec);
        });
        if (!seen) roots.push_back(std::move(candidate));
    }
    return roots;
}

TemplateInfo load_template(const fs::path& dir) {
    try {
        return read_template(dir);
    } catch (const TemplateError& error) {
        throw CliError(error.what());
    }
}

TemplateInfo validate_template(const fs::path& dir) {
    TemplateInfo info = load_template(dir);
    std::error_code ec;
    if (info.name != kDockerfileLanguage && !fs::is_regular_file(dir / "Dockerfile", ec))
        throw CliError("template " + info.name + " (" + dir.string() + ") has no Dockerfile");
    if (!fs::is_directory(dir / info.handler_folder, ec))
        throw CliError("template " + info.name + " (" + dir.string() + ") has no handler folder " +
                       info.handler_folder + "/");
    return info;
}

std::vector<TemplateInfo> list_templates(const std::vector<TemplateRoot>& roots) {
    std::vector<TemplateInfo> found;
    std::set<std::string> names;
    for (const auto& root : roots) {
        for (const auto& folder : template_folders(root.dir)) {
            const std::string name = folder.filename().string();
            if (names.count(name)) continue;
            try {
                TemplateInfo info = load_template(folder);
                info.origin = root.origin;
                names.insert(name);
                found.push_back(std::move(info));
            } catch (const CliError&) {
                // A broken template is reported when it is used (find_template), not in a listing.
            }
        }
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return found;
}

std::optional<TemplateInfo> find_template(const std::vector<TemplateRoot>& roots,
                                          const std::string& lang) {
    // A language is one folder name: nothing that could walk out of a root.
    if (lang.empty() || lang == "." || lang == ".." || lang.find('/') != std::string::npos)
        return std::nullopt;
    for (const auto& root : roots) {
        std::error_code ec;
        if (!fs::is_regular_file(root.dir / lang / kTemplateFileName, ec)) continue;
        TemplateInfo info = load_template(root.dir / lang);
        info.origin = root.origin;
        return info;
    }
    return std::nullopt;
}

TemplateInfo require_template(const std::vector<TemplateRoot>& roots, const std::string& lang) {
    if (auto info = find_template(roots, lang)) return std::move(*info);
    std::string known;
    for (const auto& info : list_templates(roots)) known += (known.empty() ? "" : ", ") + info.name;
    throw CliError("unknown template '" + lang + "' (" +
                   (known.empty() ? "no templates found" : "known: " + known) +
                   "); `faas template pull SOURCE` adds more");
}

std::string additional_packages(const TemplateInfo& tmpl,
                                const std::vector<std::string>& selected) {
    std::vector<std::string> packages;
    std::set<std::string> used;
    for (const auto& name : selected) {
        const auto option = std::find_if(tmpl.build_options.begin(), tmpl.build_options.end(),
                                         [&](const BuildOption& o) { return o.name == name; });
        if (option == tmpl.build_options.end()) {
            std::string known;
            for (const auto& o : tmpl.build_options) known += (known.empty() ? "" : ", ") + o.name;
            throw CliError("build option '" + name + "' is not one of template " + tmpl.name +
                           "'s (" + (known.empty() ? "it has none" : known) + ")");
        }
        for (const auto& package : option->packages) {
            if (used.insert(package).second) packages.push_back(package);
        }
    }
    std::string joined;
    for (const auto& package : packages) joined += (joined.empty() ? "" : " ") + package;
    return joined;
}

bool is_git_source(const std::string& source) {
    for (const char* prefix : {"https://", "http://", "git@", "ssh://", "git://", "file://"}) {
        if (source.rfind(prefix, 0) == 0) return true;
    }
    const std::string url = source.substr(0, source.rfind('#'));
    return url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0 && !fs::is_directory(url);
}

std::vector<PulledTemplate> pull_templates(const std::string& source, const fs::path& project_dir,
                                           bool overwrite, const std::string& only) {
    std::optional<TempFolder> clone;
    fs::path from;
    if (is_git_source(source)) {
        clone.emplace();
        clone_git_source(source, clone->path() / "repo");
        from = clone->path() / "repo";
    } else {
        from = source;
        std::error_code ec;
        if (!fs::is_directory(from, ec))
            throw CliError("template source " + source + " is not a folder or a git URL");
    }
    // OpenFaaS's template repositories keep them in template/; a plain folder of templates works
    // too.
    std::vector<fs::path> folders = template_folders(from / "template");
    if (folders.empty()) folders = template_folders(from);
    if (folders.empty() && fs::is_regular_file(from / kTemplateFileName)) folders.push_back(from);
    if (folders.empty())
        throw CliError("no templates in " + source +
                       " (looked for template/<lang>/template.yml and <lang>/template.yml)");

    // Check everything before copying anything, so a refusal leaves ./template as it was.
    std::vector<TemplateInfo> templates;
    for (const auto& folder : folders) {
        if (only.empty() || folder.filename() == only)
            templates.push_back(validate_template(folder));
    }
    if (templates.empty()) throw CliError("no template " + only + " in " + source);
    const fs::path target_root = project_dir / "template";
    for (const auto& info : templates) {
        std::error_code ec;
        if (!overwrite && fs::exists(target_root / info.name, ec))
            throw CliError("template " + info.name + " already exists in " +
                           (target_root / info.name).string() + " (--overwrite replaces it)");
    }
    std::vector<PulledTemplate> pulled;
    for (const auto& info : templates) {
        const fs::path target = target_root / info.name;
        std::error_code ec;
        if (fs::equivalent(info.dir, target, ec)) continue;  // Pulling ./template into itself.
        const bool existed = fs::exists(target, ec);
        fs::remove_all(target, ec);
        fs::create_directories(target_root, ec);
        fs::copy(info.dir, target, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
                 ec);
        if (ec)
            throw CliError("cannot copy template " + info.name + " to " + target.string() + ": " +
                           ec.message());
        fs::remove_all(target / ".git", ec);
        pulled.push_back({info.name, target, existed});
    }
    return pulled;
}

}  // namespace faas::cli
