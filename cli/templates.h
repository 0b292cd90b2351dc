// Function templates (OpenFaaS's format): a folder named for its language holding template.yml
// (read by common/function_template.h), a Dockerfile and the handler folder `faas new` copies.
// They are found, in order, in the project's ./template/ (where `faas template pull` and OpenFaaS's
// faas-cli put them), in $FAAS_TEMPLATES, beside the installed binary, and in the source tree of an
// uninstalled build.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "env.h"
#include "function_template.h"

namespace faas::cli {

/// A folder of templates, one sub-folder each.
struct TemplateRoot {
    std::filesystem::path dir;
    std::string origin;
};

/// The language whose handler folder is itself the build context (it holds the Dockerfile).
inline constexpr const char* kDockerfileLanguage = "dockerfile";

/// Where templates are looked for, in order: <project_dir>/template, $FAAS_TEMPLATES,
/// <exe_dir>/../share/faas/templates, then the source tree's templates/ (FAAS_SOURCE_TEMPLATES).
/// Folders that do not exist are left out.
std::vector<TemplateRoot> template_roots(const Env& env, const std::filesystem::path& exe_dir,
                                         const std::filesystem::path& project_dir);

/// faas::read_template (common/function_template.h), its TemplateError turned into a CliError
/// with the same message: a missing or bad file names it (and the line).
TemplateInfo load_template(const std::filesystem::path& dir);

/// Checks a template folder is usable: template.yml parses, a Dockerfile is there (unless the
/// language is dockerfile), and so is its handler folder. Throws CliError saying what is missing.
TemplateInfo validate_template(const std::filesystem::path& dir);

/// Every template in `roots`, by name; one in an earlier root hides one of the same name later.
std::vector<TemplateInfo> list_templates(const std::vector<TemplateRoot>& roots);

/// The template for `lang`, or nullopt.
std::optional<TemplateInfo> find_template(const std::vector<TemplateRoot>& roots,
                                          const std::string& lang);

/// The template for `lang`; CliError "unknown template 'x' (known: a, b, c) ..." if none.
TemplateInfo require_template(const std::vector<TemplateRoot>& roots, const std::string& lang);

/// The packages of the build options named in `selected` (in order, without repeats), joined by
/// spaces: the value of ADDITIONAL_PACKAGE. An unknown name is a CliError listing the template's
/// options.
std::string additional_packages(const TemplateInfo& tmpl, const std::vector<std::string>& selected);

/// Is `source` a git URL (https://, git@, ssh://, ..., or ending in .git) rather than a folder?
bool is_git_source(const std::string& source);

struct PulledTemplate {
    std::string name;
    std::filesystem::path dir;  ///< Where it was copied to.
    bool replaced = false;      ///< It overwrote an existing template.
};

/// Copies the templates of `source` (a folder holding template/<lang>/ or <lang>/ folders, or a
/// git URL, optionally with #branch-or-tag, cloned with `git clone --depth 1`) into
/// `project_dir`/template/<lang>/; only the one named `only`, if given. An existing template is a
/// CliError unless `overwrite` (checked for all before any is copied).
std::vector<PulledTemplate> pull_templates(const std::string& source,
                                           const std::filesystem::path& project_dir, bool overwrite,
                                           const std::string& only = "");

}  // namespace faas::cli
