// Reading template.yml with yaml-cpp: the file is bounded before it is parsed, every failure
// names the file and line, and the `local:` section is checked strictly (it drives what the
// gateway runs), while the rest tolerates keys of OpenFaaS's own format.
#include "function_template.h"

#include <yaml-cpp/yaml.h>

#include <fstream>

namespace faas {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail_at(const fs::path& file, const YAML::Mark& mark,
                          const std::string& message) {
    throw TemplateError(file.string() + ":" + std::to_string(mark.line >= 0 ? mark.line + 1 : 1) +
                        ": " + message);
}

std::string scalar(const fs::path& file, const YAML::Node& key, const YAML::Node& value) {
    if (value.IsNull()) return "";
    if (!value.IsScalar()) fail_at(file, key.Mark(), key.Scalar() + " must be a single value");
    return value.Scalar();
}

/// A list of single values; one value alone is taken as a list of one.
std::vector<std::string> scalar_list(const fs::path& file, const YAML::Node& key,
                                     const YAML::Node& value) {
    std::vector<std::string> items;
    if (value.IsNull()) return items;
    if (value.IsScalar()) {
        items.push_back(value.Scalar());
        return items;
    }
    if (!value.IsSequence()) fail_at(file, key.Mark(), key.Scalar() + " must be a list");
    for (const auto& item : value) {
        if (!item.IsScalar())
            fail_at(file, item.Mark(), "each item of " + key.Scalar() + " must be a single value");
        items.push_back(item.Scalar());
    }
    return items;
}

std::vector<BuildOption> read_build_options(const fs::path& file, const YAML::Node& key,
                                            const YAML::Node& value) {
    std::vector<BuildOption> options;
    if (value.IsNull()) return options;
    if (!value.IsSequence())
        fail_at(file, key.Mark(), "build_options must be a list of {name, packages}");
    for (const auto& item : value) {
        if (!item.IsMap())
            fail_at(file, item.Mark(), "each build option must be a map with name and packages");
        BuildOption option;
        for (const auto& field : item) {
            if (!field.first.IsScalar()) continue;
            const std::string name = field.first.Scalar();
            if (name == "name") {
                option.name = scalar(file, field.first, field.second);
            } else if (name == "packages") {
                if (field.second.IsNull()) continue;
                if (!field.second.IsSequence())
                    fail_at(file, field.first.Mark(), "packages must be a list");
                for (const auto& package : field.second) {
                    if (!package.IsScalar())
                        fail_at(file, package.Mark(), "each package must be a name");
                    option.packages.push_back(package.Scalar());
                }
            }
        }
        if (option.name.empty()) fail_at(file, item.Mark(), "a build option without a name");
        options.push_back(std::move(option));
    }
    return options;
}

/// A name looked up on PATH: no folder part, nothing a shell would split.
bool is_program_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of("/ \t\n\r") == std::string::npos;
}

/// A POSIX environment variable name: letters, digits and '_', not starting with a digit.
bool is_variable_name(const std::string& name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
    for (const char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

/// A path inside the version folder: relative, without "." or ".." parts.
bool is_inner_path(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos) return false;
    for (const auto& part : fs::path(path)) {
        if (part == "." || part == "..") return false;
    }
    return true;
}

LocalDependencies read_dependencies(const fs::path& file, const YAML::Node& key,
                                    const YAML::Node& value) {
    if (!value.IsMap())
        fail_at(file, key.Mark(), "local: dependencies must be a map of files and installed");
    LocalDependencies dependencies;
    for (const auto& pair : value) {
        const std::string name = pair.first.IsScalar() ? pair.first.Scalar() : "";
        std::vector<std::string>* paths = nullptr;
        if (name == "files")
            paths = &dependencies.files;
        else if (name == "installed")
            paths = &dependencies.installed;
        else
            fail_at(
                file, pair.first.Mark(),
                "unknown key '" + name + "' under local: dependencies: (known: files, installed)");
        *paths = scalar_list(file, pair.first, pair.second);
        for (const auto& path : *paths) {
            if (!is_inner_path(path))
                fail_at(file, pair.first.Mark(),
                        "local: dependencies: '" + path +
                            "' is not a path inside the function's folder (relative, no ..)");
        }
    }
    if (dependencies.files.empty() || dependencies.installed.empty())
        fail_at(file, key.Mark(), "local: dependencies needs both files and installed");
    return dependencies;
}

LocalRecipe read_local(const fs::path& file, const YAML::Node& key, const YAML::Node& value) {
    LocalRecipe recipe;
    if (value.IsNull()) return recipe;
    if (!value.IsMap())
        fail_at(file, key.Mark(), "local must be a map (requires, install, fprocess, ...)");
    for (const auto& pair : value) {
        if (!pair.first.IsScalar()) fail_at(file, pair.first.Mark(), "local: keys must be names");
        const std::string name = pair.first.Scalar();
        if (name == "requires") {
            recipe.required_programs = scalar_list(file, pair.first, pair.second);
            for (const auto& program : recipe.required_programs) {
                if (!is_program_name(program))
                    fail_at(file, pair.first.Mark(),
                            "local: requires '" + program + "', which is not a program name");
            }
        } else if (name == "check") {
            recipe.check = scalar(file, pair.first, pair.second);
        } else if (name == "check_hint") {
            recipe.check_hint = scalar(file, pair.first, pair.second);
        } else if (name == "install") {
            recipe.install = scalar_list(file, pair.first, pair.second);
        } else if (name == "test") {
            recipe.test = scalar(file, pair.first, pair.second);
        } else if (name == "fprocess") {
            recipe.fprocess = scalar(file, pair.first, pair.second);
        } else if (name == "dependencies") {
            recipe.dependencies = read_dependencies(file, pair.first, pair.second);
        } else if (name == "environment") {
            if (pair.second.IsNull()) continue;
            if (!pair.second.IsMap())
                fail_at(file, pair.first.Mark(), "local: environment must be a map of NAME: value");
            for (const auto& variable : pair.second) {
                const std::string variable_name =
                    variable.first.IsScalar() ? variable.first.Scalar() : "";
                if (!is_variable_name(variable_name))
                    fail_at(file, variable.first.Mark(),
                            "local: environment: '" + variable_name + "' is not a variable name");
                recipe.environment[variable_name] = scalar(file, variable.first, variable.second);
            }
        } else {
            fail_at(file, pair.first.Mark(),
                    "unknown key '" + name +
                        "' under local: (known: requires, check, check_hint, install, test, "
                        "fprocess, environment, dependencies)");
        }
    }
    return recipe;
}

/// The file's text, refused when larger than kMaxTemplateFileBytes. The read itself is bounded
/// too: the file may grow between the size check and the read.
std::string read_bounded(const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        throw TemplateError(file.string() + " not found: not a template folder");
    const std::string too_large =
        file.string() + ": larger than " + std::to_string(kMaxTemplateFileBytes / 1024) + " KiB";
    if (fs::file_size(file, ec) > kMaxTemplateFileBytes) throw TemplateError(too_large);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw TemplateError("cannot read " + file.string());
    std::string text(kMaxTemplateFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) throw TemplateError("cannot read " + file.string());
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxTemplateFileBytes) throw TemplateError(too_large);
    return text;
}

}  // namespace

TemplateInfo read_template(const fs::path& dir) {
    const fs::path file = dir / kTemplateFileName;
    const std::string text = read_bounded(file);
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& error) {
        fail_at(file, error.mark, error.msg);
    }
    TemplateInfo info;
    info.name = dir.filename().string();
    if (info.name.empty() || info.name == ".") info.name = dir.parent_path().filename().string();
    info.dir = dir;
    if (root.IsNull()) return info;
    if (!root.IsMap())
        fail_at(file, root.Mark(), "template.yml must be a map (language, fprocess, ...)");
    try {
        for (const auto& pair : root) {
            if (!pair.first.IsScalar()) continue;
            const std::string key = pair.first.Scalar();
            if (key == "language")
                info.language = scalar(file, pair.first, pair.second);
            else if (key == "fprocess")
                info.fprocess = scalar(file, pair.first, pair.second);
            else if (key == "handler_folder")
                info.handler_folder = scalar(file, pair.first, pair.second);
            else if (key == "welcome_message")
                info.welcome_message = scalar(file, pair.first, pair.second);
            else if (key == "build_options")
                info.build_options = read_build_options(file, pair.first, pair.second);
            else if (key == "local")
                info.local = read_local(file, pair.first, pair.second);
        }
    } catch (const YAML::Exception& error) {
        // Reading a node can fail too (a bad conversion); keep the file and line.
        fail_at(file, error.mark, error.msg);
    }
    if (info.handler_folder.empty()) info.handler_folder = "function";
    const fs::path handler = fs::path(info.handler_folder).lexically_normal();
    if (handler.is_absolute() || handler.empty() || *handler.begin() == "..")
        throw TemplateError(file.string() +
                            ": handler_folder must be a folder inside the template");
    return info;
}

}  // namespace faas
