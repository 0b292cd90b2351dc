// A function template's template.yml (OpenFaaS's format, plus a `local:` section saying how to
// build and run the template without Docker). Read by the CLI (`faas new`, `faas build`) and by
// the gateway's builders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace faas {

/// template.yml is missing, too large, or does not say what it must; the message names the file
/// and, where it can, the line ("templates/x/template.yml:4: ...").
class TemplateError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A named set of extra packages a template's Dockerfile installs (build arg ADDITIONAL_PACKAGE).
struct BuildOption {
    std::string name;
    std::vector<std::string> packages;
};

/// What the install steps read and make, so that a build whose inputs did not change can take
/// what the function's previous version installed instead of installing again (as Docker reuses
/// a layer). Paths are relative to the version folder.
struct LocalDependencies {
    /// The install steps' inputs (requirements.txt, package.json): unchanged when each is
    /// byte for byte the same as in the previous version, or absent from both.
    std::vector<std::string> files;
    /// What the install steps make (deps, node_modules): hard-linked from the previous version.
    std::vector<std::string> installed;
};

/// How the template builds and runs on the local provider, without Docker (template.yml's
/// `local:` section). Commands are shell commands run in the version folder.
struct LocalRecipe {
    /// Programs that must be on PATH (`requires:`; `requires` itself is a C++20 keyword).
    std::vector<std::string> required_programs;
    /// A command that exits 0 when the host has what the template needs; `check_hint` says what
    /// to install when it does not.
    std::string check;
    std::string check_hint;
    /// Run in order after the context is unpacked (pip install --target, npm ci, a compiler).
    std::vector<std::string> install;
    /// Run after install unless the build says TEST_ENABLED=false.
    std::string test;
    /// The replica's process; empty: the template's top-level fprocess.
    std::string fprocess;
    /// What the Dockerfile sets with ENV (mode, upstream_url, PYTHONPATH, ...).
    std::map<std::string, std::string> environment;
    /// Unset: every build runs the install steps.
    std::optional<LocalDependencies> dependencies;
};

/// template.yml, plus where the template was found.
struct TemplateInfo {
    std::string name;  ///< The folder's name: what `lang:` says.
    std::filesystem::path dir;
    std::string origin;  ///< Set by whoever found it: "project", "FAAS_TEMPLATES", "installed",
                         ///< "source" (the CLI's roots).
    std::string language;
    std::string fprocess;
    std::string handler_folder = "function";
    std::vector<BuildOption> build_options;
    std::string welcome_message;
    /// Without it the template runs only as a Docker image.
    std::optional<LocalRecipe> local;
};

inline constexpr const char* kTemplateFileName = "template.yml";
/// A template.yml larger than this is refused before it is parsed.
inline constexpr std::uintmax_t kMaxTemplateFileBytes = 64 * 1024;

/// Reads `dir`/template.yml. Keys other than the ones above are left alone (templates are shared
/// with OpenFaaS's faas-cli), except under `local:`, where an unknown key is an error naming it.
/// Throws TemplateError.
TemplateInfo read_template(const std::filesystem::path& dir);

}  // namespace faas
