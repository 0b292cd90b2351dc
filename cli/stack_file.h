// The stack file (stack.yml) in OpenFaaS's format: what functions to build and deploy and how.
// Parsing substitutes ${VAR} and ${VAR:-default} from the environment first, then reads the YAML
// with yaml-cpp; every error names the file and line.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.h"
#include "env.h"

namespace faas::cli {

struct Resources {
    std::string memory;  ///< e.g. "128m", as written.
    std::string cpu;     ///< e.g. "0.5", as written.
};

struct FunctionSpec {
    std::string name;
    std::string lang;
    std::string handler;  ///< Folder of the handler, relative to the stack file's folder.
    std::string image;
    std::string fprocess;
    std::string namespace_;
    std::map<std::string, std::string> environment;
    std::vector<std::string> environment_file;  ///< Files of `environment:` maps, merged under it.
    std::vector<std::string> secrets;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::vector<std::string> constraints;
    std::optional<Resources> limits;
    std::optional<Resources> requests;
    bool readonly_root_filesystem = false;
    std::map<std::string, std::string> build_args;
    std::vector<std::string> build_options;
    bool skip_build = false;
    int line = 0;  ///< Line of the function's key in the file, for messages.
};

struct TemplateSource {
    std::string name;
    std::string source;
};

struct Stack {
    std::string version;
    std::string provider_name;
    std::string gateway;                  ///< provider.gateway; may be empty.
    std::vector<FunctionSpec> functions;  ///< In file order.
    std::vector<TemplateSource> templates;
    std::filesystem::path path;  ///< The file it came from.
    std::filesystem::path
        dir;  ///< Its folder: handler and environment_file paths are relative to it.
};

/// Thrown for a stack file that cannot be used; what() is "FILE:LINE: what is wrong".
class StackError : public CliError {
  public:
    using CliError::CliError;
};

/// A function name the stack file accepts: lower-case letters, digits and '-', starting with a
/// letter, at most 63 characters (a DNS label: it becomes a service and host name).
bool is_valid_function_name(std::string_view name);

/// Replaces ${VAR} and ${VAR:-default} with the environment's values (unset: "" or the default;
/// ${VAR:-x} also takes the default when VAR is empty). "$$" is a literal "$". An unclosed "${" is
/// a StackError naming `file` and the line.
std::string substitute_env(std::string_view text, const Env& env, const std::string& file);

/// Parses a whole stack file's text. `file` names it in errors and sets Stack::path and dir.
Stack parse_stack(std::string_view text, const std::filesystem::path& file, const Env& env);

/// Reads and parses `file`. A missing or unreadable file is a CliError naming it.
Stack load_stack(const std::filesystem::path& file, const Env& env);

/// The environment a function is deployed with: each environment_file's `environment:` map in
/// order, then `environment` over them. Files are resolved against `stack.dir`.
std::map<std::string, std::string> merged_environment(const Stack& stack, const FunctionSpec& fn);

/// The YAML text of a new stack file with one function, as `faas new` writes it.
std::string render_stack(const std::string& gateway, const FunctionSpec& fn);

/// `existing` (a stack file's text) with one more function added under its `functions:` map, the
/// rest of the text (comments, order) kept as it was; for `faas new --append`. A StackError if the
/// name is taken or there is no `functions:` map.
std::string append_function(std::string_view existing, const std::filesystem::path& file,
                            const FunctionSpec& fn);

}  // namespace faas::cli
