// Reading and writing stack files. The text is untrusted (it may come from anyone's repository),
// so it is bounded before yaml-cpp sees it, the parsed tree is checked for depth, alias blow-up
// and duplicate keys before any field is read, and every mistake is reported with its line.
#include "stack_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>

namespace faas::cli {
namespace {

constexpr size_t kMaxStackBytes = 1024 * 1024;
constexpr int kMaxDepth = 64;
// Aliases let a few lines name the same subtree many times ("billion laughs"): reading visits
// each use, so the visits are bounded rather than the text.
constexpr long kMaxNodeVisits = 100000;
constexpr size_t kMaxNameLength = 63;

constexpr std::array kTopLevelKeys = {"version", "provider", "functions", "configuration"};
constexpr std::array kProviderKeys = {"name", "gateway", "network"};
constexpr std::array kConfigurationKeys = {"templates"};
constexpr std::array kTemplateSourceKeys = {"name", "source"};
constexpr std::array kResourceKeys = {"memory", "cpu"};
constexpr std::array kFunctionKeys = {"lang",
                                      "handler",
                                      "image",
                                      "fprocess",
                                      "environment",
                                      "environment_file",
                                      "secrets",
                                      "labels",
                                      "annotations",
                                      "constraints",
                                      "limits",
                                      "requests",
                                      "readonly_root_filesystem",
                                      "build_args",
                                      "build_options",
                                      "skip_build",
                                      "namespace"};

[[noreturn]] void fail_on_line(const std::string& file, int line, const std::string& message) {
    throw StackError(file + ":" + std::to_string(line) + ": " + message);
}

[[noreturn]] void fail_at(const std::string& file, const YAML::Mark& mark,
                          const std::string& message) {
    fail_on_line(file, mark.line >= 0 ? mark.line + 1 : 1, message);
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

template <size_t N>
std::string unknown_key_message(const std::string& key, const std::string& where,
                                const std::array<const char*, N>& known) {
    std::string message = "unknown key '" + key + "' in " + where;
    for (const char* candidate : known) {
        if (edit_distance(key, candidate) <= 2)
            return message + " (did you mean '" + candidate + "'?)";
    }
    message += " (known: ";
    for (size_t i = 0; i < N; ++i) message += std::string(i ? ", " : "") + known[i];
    return message + ")";
}

template <size_t N>
bool is_one_of(const std::string& key, const std::array<const char*, N>& known) {
    return std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; });
}

const char* kind_of(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Null:
            return "empty";
        default:
            return "a single value";
    }
}

/// Checks the whole tree before any field is read: bounded depth and visits (aliases), plain
/// keys, no key twice in one map.
class TreeChecker {
  public:
    explicit TreeChecker(const std::string& file) : file_(file) {}

    void check(const YAML::Node& node, int depth = 1) {
        if (depth > kMaxDepth)
            fail_at(file_, node.Mark(),
                    "nested deeper than " + std::to_string(kMaxDepth) + " levels");
        if (++visits_ > kMaxNodeVisits)
            fail_at(file_, node.Mark(),
                    "too many values (aliases expand to more than " +
                        std::to_string(kMaxNodeVisits) + ")");
        if (node.IsSequence()) {
            for (const auto& item : node) check(item, depth + 1);
        } else if (node.IsMap()) {
            std::map<std::string, int> seen;
            for (const auto& pair : node) {
                const YAML::Node& key = pair.first;
                if (!key.IsScalar())
                    fail_at(file_, key.Mark(),
                            "a key must be a plain name, not " + std::string(kind_of(key)));
                const int line = key.Mark().line + 1;
                auto [it, fresh] = seen.emplace(key.Scalar(), line);
                if (!fresh)
                    fail_at(file_, key.Mark(),
                            "duplicate key '" + key.Scalar() + "' (first on line " +
                                std::to_string(it->second) + ")");
                check(pair.second, depth + 1);
            }
        }
    }

  private:
    const std::string& file_;
    long visits_ = 0;
};

YAML::Node load_yaml(std::string_view text, const std::string& file) {
    if (text.size() > kMaxStackBytes)
        throw StackError(file + ": larger than 1 MiB (" + std::to_string(text.size()) + " bytes)");
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& error) {
        fail_at(file, error.mark, error.msg);
    } catch (const YAML::Exception& error) {
        fail_at(file, error.mark, error.msg);
    }
    TreeChecker(file).check(root);
    return root;
}

/// Reads the typed fields of one YAML document, naming the file and line in every error.
class Reader {
  public:
    explicit Reader(const std::string& file) : file_(file) {}

    [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const {
        fail_at(file_, at.Mark(), message);
    }

    /// A scalar as written (numbers and booleans keep their text); empty for a null.
    std::string string(const YAML::Node& key, const YAML::Node& value,
                       const std::string& what) const {
        if (value.IsNull()) return "";
        if (!value.IsScalar()) fail(key, what + " must be a single value, not " + kind_of(value));
        return value.Scalar();
    }

    bool boolean(const YAML::Node& key, const YAML::Node& value, const std::string& what) const {
        if (value.IsNull()) return false;
        bool result = false;
        if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result))
            fail(key, what + " must be true or false");
        return result;
    }

    std::vector<std::string> list(const YAML::Node& key, const YAML::Node& value,
                                  const std::string& what) const {
        std::vector<std::string> result;
        if (value.IsNull()) return result;
        if (!value.IsSequence()) fail(key, what + " must be a list, not " + kind_of(value));
        for (const auto& item : value) {
            if (!item.IsScalar() && !item.IsNull())
                fail(item,
                     "each item of " + what + " must be a single value, not " + kind_of(item));
            result.push_back(item.IsNull() ? "" : item.Scalar());
        }
        return result;
    }

    std::map<std::string, std::string> map(const YAML::Node& key, const YAML::Node& value,
                                           const std::string& what) const {
        std::map<std::string, std::string> result;
        if (value.IsNull()) return result;
        if (!value.IsMap())
            fail(key, what + " must be a map of NAME: value, not " + kind_of(value));
        for (const auto& pair : value) {
            const std::string name = pair.first.Scalar();
            if (name.empty()) fail(pair.first, "an empty name in " + what);
            result[name] = string(pair.first, pair.second, what + "." + name);
        }
        return result;
    }

    Resources resources(const YAML::Node& key, const YAML::Node& value,
                        const std::string& what) const {
        Resources result;
        if (value.IsNull()) return result;
        if (!value.IsMap())
            fail(key, what + " must be a map with memory and cpu, not " + kind_of(value));
        for (const auto& pair : value) {
            const std::string name = pair.first.Scalar();
            if (name == "memory")
                result.memory = string(pair.first, pair.second, what + ".memory");
            else if (name == "cpu")
                result.cpu = string(pair.first, pair.second, what + ".cpu");
            else
                fail(pair.first, unknown_key_message(name, what, kResourceKeys));
        }
        return result;
    }

  private:
    const std::string& file_;
};

FunctionSpec read_function(const Reader& reader, const YAML::Node& key, const YAML::Node& value) {
    FunctionSpec fn;
    fn.name = key.Scalar();
    fn.line = key.Mark().line + 1;
    if (!is_valid_function_name(fn.name))
        reader.fail(key,
                    "function name '" + fn.name +
                        "' is not valid: use lower-case letters, digits and '-', starting with a "
                        "letter, at most 63 characters");
    if (!value.IsMap())
        reader.fail(key, "function " + fn.name +
                             " must be a map of its settings (lang, handler, image...), not " +
                             kind_of(value));
    const std::string where = "function " + fn.name;
    for (const auto& pair : value) {
        const YAML::Node& k = pair.first;
        const YAML::Node& v = pair.second;
        const std::string name = k.Scalar();
        const std::string what = fn.name + "." + name;
        if (name == "lang")
            fn.lang = reader.string(k, v, what);
        else if (name == "handler")
            fn.handler = reader.string(k, v, what);
        else if (name == "image")
            fn.image = reader.string(k, v, what);
        else if (name == "fprocess")
            fn.fprocess = reader.string(k, v, what);
        else if (name == "namespace")
            fn.namespace_ = reader.string(k, v, what);
        else if (name == "environment")
            fn.environment = reader.map(k, v, what);
        else if (name == "environment_file")
            fn.environment_file = reader.list(k, v, what);
        else if (name == "secrets")
            fn.secrets = reader.list(k, v, what);
        else if (name == "labels")
            fn.labels = reader.map(k, v, what);
        else if (name == "annotations")
            fn.annotations = reader.map(k, v, what);
        else if (name == "constraints")
            fn.constraints = reader.list(k, v, what);
        else if (name == "limits")
            fn.limits = reader.resources(k, v, what);
        else if (name == "requests")
            fn.requests = reader.resources(k, v, what);
        else if (name == "readonly_root_filesystem")
            fn.readonly_root_filesystem = reader.boolean(k, v, what);
        else if (name == "build_args")
            fn.build_args = reader.map(k, v, what);
        else if (name == "build_options")
            fn.build_options = reader.list(k, v, what);
        else if (name == "skip_build")
            fn.skip_build = reader.boolean(k, v, what);
        else
            reader.fail(k, unknown_key_message(name, where, kFunctionKeys));
    }
    // Deploying needs an image whether or not it is built here; building needs a template and a
    // handler.
    if (fn.image.empty()) reader.fail(key, where + " has no image");
    if (!fn.skip_build && fn.lang.empty())
        reader.fail(key,
                    where + " has no lang (the template to build it with; or skip_build: true)");
    if (!fn.skip_build && fn.handler.empty())
        reader.fail(key, where + " has no handler (the folder of its code; or skip_build: true)");
    return fn;
}

void read_provider(const Reader& reader, const YAML::Node& key, const YAML::Node& value,
                   Stack& stack) {
    if (value.IsNull()) return;
    if (!value.IsMap())
        reader.fail(key, "provider must be a map with name and gateway, not " +
                             std::string(kind_of(value)));
    for (const auto& pair : value) {
        const std::string name = pair.first.Scalar();
        if (name == "name") {
            stack.provider_name = reader.string(pair.first, pair.second, "provider.name");
            if (stack.provider_name != "openfaas" && stack.provider_name != "faas")
                reader.fail(pair.first, "provider.name must be openfaas (or faas), not '" +
                                            stack.provider_name + "'");
        } else if (name == "gateway") {
            stack.gateway = reader.string(pair.first, pair.second, "provider.gateway");
        } else if (name == "network") {
            reader.string(pair.first, pair.second,
                          "provider.network");  // Swarm's; checked, unused.
        } else {
            reader.fail(pair.first, unknown_key_message(name, "provider", kProviderKeys));
        }
    }
}

void read_configuration(const Reader& reader, const YAML::Node& key, const YAML::Node& value,
                        Stack& stack) {
    if (value.IsNull()) return;
    if (!value.IsMap())
        reader.fail(key, "configuration must be a map, not " + std::string(kind_of(value)));
    for (const auto& pair : value) {
        const std::string name = pair.first.Scalar();
        if (name != "templates")
            reader.fail(pair.first, unknown_key_message(name, "configuration", kConfigurationKeys));
        if (pair.second.IsNull()) continue;
        if (!pair.second.IsSequence())
            reader.fail(pair.first, "configuration.templates must be a list of {name, source}");
        for (const auto& item : pair.second) {
            if (!item.IsMap())
                reader.fail(item, "each template must be a map with name and source");
            TemplateSource source;
            for (const auto& field : item) {
                const std::string field_name = field.first.Scalar();
                if (field_name == "name")
                    source.name = reader.string(field.first, field.second, "template name");
                else if (field_name == "source")
                    source.source = reader.string(field.first, field.second, "template source");
                else
                    reader.fail(field.first,
                                unknown_key_message(field_name, "configuration.templates",
                                                    kTemplateSourceKeys));
            }
            if (source.name.empty() || source.source.empty())
                reader.fail(item, "each template needs a name and a source");
            stack.templates.push_back(std::move(source));
        }
    }
}

std::string read_file_bounded(const std::filesystem::path& file, const std::string& what) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        throw CliError(what + " " + file.string() + " not found");
    if (std::filesystem::is_directory(file, ec))
        throw CliError(what + " " + file.string() + " is a folder, not a file");
    const auto size = std::filesystem::file_size(file, ec);
    if (!ec && size > kMaxStackBytes)
        throw StackError(file.string() + ": larger than 1 MiB (" + std::to_string(size) +
                         " bytes)");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CliError("cannot read " + what + " " + file.string());
    std::string text;
    std::array<char, 65536> buffer{};
    while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
        text.append(buffer.data(), static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxStackBytes) throw StackError(file.string() + ": larger than 1 MiB");
    }
    return text;
}

bool is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/// A scalar for writing: plain when it cannot be misread, else double-quoted. A "$" is written
/// "$$": the file is read back through substitute_env.
std::string yaml_scalar(const std::string& value) {
    static const std::set<std::string> kReserved = {
        "true", "false", "yes",  "no",   "on",    "off", "null", "~",  "True", "False", "Yes", "No",
        "On",   "Off",   "Null", "TRUE", "FALSE", "YES", "NO",   "ON", "OFF",  "NULL",  "y",   "n"};
    const bool plain = !value.empty() && !kReserved.count(value) && value[0] != '-' &&
                       value[0] != ':' && value[0] != '@' && value.back() != ':' &&
                       std::all_of(value.begin(), value.end(),
                                   [](char c) {
                                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                              (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                                              c == '/' || c == ':' || c == '@' || c == '+' ||
                                              c == '-';
                                   }) &&
                       value.find(": ") == std::string::npos;
    if (plain) return value;
    std::string quoted = "\"";
    for (unsigned char c : value) {
        switch (c) {
            case '"':
                quoted += "\\\"";
                break;
            case '\\':
                quoted += "\\\\";
                break;
            case '\n':
                quoted += "\\n";
                break;
            case '\t':
                quoted += "\\t";
                break;
            case '$':
                quoted += "$$";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    static const char* kHex = "0123456789abcdef";
                    quoted += "\\x";
                    quoted += kHex[c >> 4];
                    quoted += kHex[c & 15];
                } else {
                    quoted += static_cast<char>(c);
                }
        }
    }
    return quoted + "\"";
}

/// The lines of one function under `functions:`: its name at `indent`, its fields one `step`
/// deeper.
std::string function_block(const FunctionSpec& fn, const std::string& indent,
                           const std::string& step) {
    const std::string field = indent + step;
    const std::string item = field + step;
    std::ostringstream out;
    out << indent << fn.name << ":\n";
    auto scalar = [&](const char* name, const std::string& value) {
        if (!value.empty()) out << field << name << ": " << yaml_scalar(value) << '\n';
    };
    auto boolean = [&](const char* name, bool value) {
        if (value) out << field << name << ": true\n";
    };
    auto list = [&](const char* name, const std::vector<std::string>& values) {
        if (values.empty()) return;
        out << field << name << ":\n";
        for (const auto& value : values) out << item << "- " << yaml_scalar(value) << '\n';
    };
    auto map = [&](const char* name, const std::map<std::string, std::string>& values) {
        if (values.empty()) return;
        out << field << name << ":\n";
        for (const auto& [k, v] : values)
            out << item << yaml_scalar(k) << ": " << yaml_scalar(v) << '\n';
    };
    auto resources = [&](const char* name, const std::optional<Resources>& r) {
        if (!r || (r->memory.empty() && r->cpu.empty())) return;
        out << field << name << ":\n";
        if (!r->memory.empty()) out << item << "memory: " << yaml_scalar(r->memory) << '\n';
        if (!r->cpu.empty()) out << item << "cpu: " << yaml_scalar(r->cpu) << '\n';
    };
    scalar("lang", fn.lang);
    scalar("handler", fn.handler);
    scalar("image", fn.image);
    scalar("fprocess", fn.fprocess);
    scalar("namespace", fn.namespace_);
    map("environment", fn.environment);
    list("environment_file", fn.environment_file);
    list("secrets", fn.secrets);
    map("labels", fn.labels);
    map("annotations", fn.annotations);
    list("constraints", fn.constraints);
    resources("limits", fn.limits);
    resources("requests", fn.requests);
    boolean("readonly_root_filesystem", fn.readonly_root_filesystem);
    map("build_args", fn.build_args);
    list("build_options", fn.build_options);
    boolean("skip_build", fn.skip_build);
    return out.str();
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            lines.emplace_back(text.substr(start));
            break;
        }
        lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

bool is_blank_or_comment(const std::string& line) {
    const size_t first = line.find_first_not_of(" \t\r");
    return first == std::string::npos || line[first] == '#';
}

}  // namespace

bool is_valid_function_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    if (name[0] < 'a' || name[0] > 'z') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

std::string substitute_env(std::string_view text, const Env& env, const std::string& file) {
    std::string result;
    result.reserve(text.size());
    int line = 1;
    auto fail = [&](const std::string& message) { fail_on_line(file, line, message); };
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') ++line;
        if (c != '$' || i + 1 >= text.size()) {
            result += c;
            continue;
        }
        if (text[i + 1] == '$') {
            result += '$';
            ++i;
            continue;
        }
        if (text[i + 1] != '{') {
            result += c;
            continue;
        }
        const size_t close = text.find_first_of("}\n", i + 2);
        if (close == std::string_view::npos || text[close] != '}')
            fail("unclosed ${ (end it with }, or write $$ for a literal $)");
        const std::string_view inner = text.substr(i + 2, close - i - 2);
        size_t name_end = 0;
        if (!inner.empty() && is_name_start(inner[0])) {
            name_end = 1;
            while (name_end < inner.size() && is_name_char(inner[name_end])) ++name_end;
        }
        const std::string_view rest = inner.substr(name_end);
        if (name_end == 0 || (!rest.empty() && rest.substr(0, 2) != ":-"))
            fail("bad substitution ${" + std::string(inner) + "}: write ${VAR} or ${VAR:-default}");
        const std::string name(inner.substr(0, name_end));
        std::optional<std::string> value = env.get(name);
        if (!rest.empty() && (!value || value->empty())) value = std::string(rest.substr(2));
        if (value && value->find_first_of("\r\n") != std::string::npos)
            fail("${" + name + "} holds a line break; a substituted value must stay on its line");
        if (value) result += *value;
        i = close;
    }
    return result;
}

Stack parse_stack(std::string_view text, const std::filesystem::path& file, const Env& env) {
    const std::string name = file.string();
    if (text.size() > kMaxStackBytes)
        throw StackError(name + ": larger than 1 MiB (" + std::to_string(text.size()) + " bytes)");
    const YAML::Node root = load_yaml(substitute_env(text, env, name), name);
    const Reader reader(name);

    Stack stack;
    stack.path = file;
    stack.dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
    if (root.IsNull()) throw StackError(name + ":1: the stack file is empty (it needs functions:)");
    if (!root.IsMap())
        reader.fail(root, "a stack file is a map with provider and functions, not " +
                              std::string(kind_of(root)));

    for (const auto& pair : root) {
        const YAML::Node& key = pair.first;
        const std::string key_name = key.Scalar();
        if (key_name == "version") {
            stack.version = reader.string(key, pair.second, "version");
        } else if (key_name == "provider") {
            read_provider(reader, key, pair.second, stack);
        } else if (key_name == "configuration") {
            read_configuration(reader, key, pair.second, stack);
        } else if (key_name == "functions") {
            if (pair.second.IsNull()) continue;
            if (!pair.second.IsMap())
                reader.fail(key, "functions must be a map of NAME: settings, not " +
                                     std::string(kind_of(pair.second)));
            for (const auto& fn : pair.second)
                stack.functions.push_back(read_function(reader, fn.first, fn.second));
        } else if (key_name.rfind("x-", 0) != 0) {  // x-*: room for anchors, as in Compose files.
            reader.fail(key, unknown_key_message(key_name, "the stack file", kTopLevelKeys));
        }
    }
    return stack;
}

Stack load_stack(const std::filesystem::path& file, const Env& env) {
    return parse_stack(read_file_bounded(file, "stack file"), file, env);
}

std::map<std::string, std::string> merged_environment(const Stack& stack, const FunctionSpec& fn) {
    std::map<std::string, std::string> merged;
    for (const auto& entry : fn.environment_file) {
        const std::filesystem::path path = std::filesystem::path(entry).is_absolute()
                                               ? std::filesystem::path(entry)
                                               : stack.dir / entry;
        const std::string name = path.string();
        std::string text;
        try {
            text = read_file_bounded(path, "environment_file");
        } catch (const StackError&) {
            throw;
        } catch (const CliError& error) {
            throw StackError(stack.path.string() + ":" + std::to_string(fn.line) + ": function " +
                             fn.name + ": " + error.what());
        }
        const YAML::Node root = load_yaml(text, name);
        const Reader reader(name);
        if (root.IsNull()) continue;
        if (!root.IsMap())
            reader.fail(root, "an environment_file is a map with environment:, not " +
                                  std::string(kind_of(root)));
        for (const auto& pair : root) {
            if (pair.first.Scalar() != "environment")
                reader.fail(pair.first, "unknown key '" + pair.first.Scalar() +
                                            "' (an environment_file holds environment:)");
            for (auto& [k, v] : reader.map(pair.first, pair.second, "environment")) merged[k] = v;
        }
    }
    for (const auto& [k, v] : fn.environment) merged[k] = v;
    return merged;
}

std::string render_stack(const std::string& gateway, const FunctionSpec& fn) {
    return "version: 1.0\nprovider:\n  name: openfaas\n  gateway: " + yaml_scalar(gateway) +
           "\nfunctions:\n" + function_block(fn, "  ", "  ");
}

std::string append_function(std::string_view existing, const std::filesystem::path& file,
                            const FunctionSpec& fn) {
    const std::string name = file.string();
    const YAML::Node root = load_yaml(existing, name);
    const Reader reader(name);
    if (!root.IsMap()) throw StackError(name + ":1: no functions: map to add " + fn.name + " to");
    YAML::Node functions_key;
    bool found = false;
    for (const auto& pair : root) {
        if (pair.first.Scalar() != "functions") continue;
        functions_key = pair.first;
        found = true;
        if (!pair.second.IsNull() && !pair.second.IsMap())
            reader.fail(pair.first, "functions must be a map of NAME: settings");
        if (pair.second.IsMap()) {
            for (const auto& f : pair.second) {
                if (f.first.Scalar() == fn.name)
                    reader.fail(f.first, "function " + fn.name + " already exists");
            }
        }
    }
    if (!found) throw StackError(name + ":1: no functions: map to add " + fn.name + " to");

    std::vector<std::string> lines = split_lines(existing);
    const size_t key_line = static_cast<size_t>(functions_key.Mark().line);
    if (functions_key.Mark().column != 0 || key_line >= lines.size())
        reader.fail(functions_key, "functions: must start a line to add " + fn.name + " to it");
    // Flow style (functions: {...}) cannot take a block; an empty {} can be opened up.
    std::string& header = lines[key_line];
    const size_t colon = header.find(':');
    std::string after = header.substr(colon + 1);
    const size_t hash = after.find(" #");
    const std::string value = after.substr(0, hash);
    const std::string trimmed =
        value.substr(std::min(value.find_first_not_of(" \t\r"), value.size()));
    if (trimmed == "{}" || trimmed.rfind("{}", 0) == 0)
        header = header.substr(0, colon + 1);
    else if (!trimmed.empty() && trimmed.find_first_not_of(" \t\r") != std::string::npos)
        reader.fail(functions_key,
                    "functions: is written on one line; add " + fn.name + " by hand");

    // The map ends at the next line that starts at column 0 (a top-level key); the function goes
    // after its last indented line, so comments before the next key stay with that key.
    size_t insert_after = key_line;
    std::string indent;
    for (size_t i = key_line + 1; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (line.empty() || line[0] == '\r') continue;
        if (line[0] != ' ' && line[0] != '\t') {
            if (line[0] == '#') continue;
            break;
        }
        if (is_blank_or_comment(line)) continue;
        insert_after = i;
        if (indent.empty()) indent = line.substr(0, line.find_first_not_of(" \t"));
    }
    if (indent.empty() || indent.find('\t') != std::string::npos) indent = "  ";
    const std::string block = function_block(fn, indent, indent);

    std::string result;
    for (size_t i = 0; i < lines.size(); ++i) {
        result += lines[i];
        result += '\n';
        if (i == insert_after) result += block;
    }
    if (!existing.empty() && existing.back() != '\n' && insert_after + 1 < lines.size()) {
        result.pop_back();  // Keep a missing final newline missing.
    }

    // Whatever the text looked like, the result must read back with the new function in it.
    const YAML::Node check = load_yaml(result, name);
    if (!check["functions"] || !check["functions"].IsMap() || !check["functions"][fn.name])
        throw StackError(name + ": could not add " + fn.name +
                         " without changing the file's structure; add it by hand");
    return result;
}

}  // namespace faas::cli
