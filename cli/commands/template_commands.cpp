// `faas new`, `faas template list` and `faas template pull`: starting functions from templates
// and getting more templates.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli_error.h"
#include "commands.h"
#include "output.h"
#include "stack_file.h"
#include "templates.h"

namespace faas::cli {
namespace fs = std::filesystem;
namespace {

/// The folder a command works in: the stack file's (-f), else the current one.
fs::path project_dir(const ParsedArgs& args) {
    if (auto file = args.value("yaml")) {
        const fs::path parent = fs::path(*file).parent_path();
        return parent.empty() ? fs::path(".") : parent;
    }
    return ".";
}

std::string display(const fs::path& path) {
    const std::string text = path.lexically_normal().string();
    return text.empty() ? "." : text;
}

int list_templates_command(Context& ctx, const ParsedArgs& args, const fs::path& dir) {
    const auto templates = list_templates(template_roots(ctx.env, ctx.exe_dir, dir));
    if (args.flag("json")) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& t : templates) {
            nlohmann::json options = nlohmann::json::array();
            for (const auto& option : t.build_options) options.push_back(option.name);
            list.push_back({{"name", t.name},
                            {"language", t.language},
                            {"origin", t.origin},
                            {"dir", t.dir.string()},
                            {"build_options", options}});
        }
        print_json(ctx.out, list);
        return 0;
    }
    if (templates.empty()) {
        ctx.out << "No templates found; `faas template pull SOURCE` adds some to ./template\n";
        return 0;
    }
    Table table({"TEMPLATE", "FROM", "FOLDER"});
    for (const auto& t : templates) table.add_row({t.name, t.origin, display(t.dir)});
    table.print(ctx.out);
    return 0;
}

void write_file(const fs::path& file, const std::string& text) {
    const fs::path temporary = file.string() + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw CliError("cannot write " + temporary.string());
    }
    std::error_code ec;
    fs::rename(temporary, file, ec);
    if (ec) {
        fs::remove(temporary, ec);
        throw CliError("cannot write " + file.string());
    }
}

std::string read_whole_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CliError("cannot read " + file.string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int run_new(Context& ctx, const ParsedArgs& args) {
    const auto& words = args.positionals();
    const auto append = args.value("append");
    const fs::path dir =
        append ? (fs::path(*append).parent_path().empty() ? fs::path(".")
                                                          : fs::path(*append).parent_path())
               : fs::path(".");
    if (args.flag("list")) return list_templates_command(ctx, args, dir);
    if (words.size() != 1) throw UsageError("give one function name: faas new NAME --lang LANG");
    const std::string& name = words[0];
    if (!is_valid_function_name(name))
        throw UsageError("'" + name +
                         "' is not a valid function name: use lower-case letters, digits and '-', "
                         "starting with a letter, at most 63 characters");
    const auto lang = args.value("lang");
    if (!lang || lang->empty())
        throw UsageError("--lang is required (faas template list shows the templates)");

    const TemplateInfo tmpl = require_template(template_roots(ctx.env, ctx.exe_dir, dir), *lang);
    validate_template(tmpl.dir);

    FunctionSpec fn;
    fn.name = name;
    fn.lang = *lang;
    fn.handler = "./" + name;
    std::string prefix = args.value("prefix").value_or("");
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    fn.image = (prefix.empty() ? "" : prefix + "/") + name + ":latest";

    // Everything is checked before anything is written, so a refusal leaves no half-made function.
    const fs::path handler = dir / name;
    std::error_code ec;
    if (fs::exists(handler, ec))
        throw CliError("folder " + display(handler) +
                       " already exists; choose another name or remove it");
    fs::path stack_file;
    std::string stack_text;
    if (append) {
        stack_file = *append;
        if (!fs::is_regular_file(stack_file, ec))
            throw CliError("stack file " + stack_file.string() + " not found (for --append)");
        stack_text = append_function(read_whole_file(stack_file), stack_file, fn);
    } else {
        stack_file = dir / (name + ".yml");
        if (fs::exists(stack_file, ec))
            throw CliError(display(stack_file) + " already exists (--append " +
                           display(stack_file) + " adds the function to it)");
        stack_text = render_stack(gateway_url(ctx, args), fn);
    }

    fs::copy(tmpl.dir / tmpl.handler_folder, handler,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) {
        std::error_code cleanup;
        fs::remove_all(handler, cleanup);
        throw CliError("cannot copy the template's " + tmpl.handler_folder + "/ to " +
                       display(handler) + ": " + ec.message());
    }
    try {
        write_file(stack_file, stack_text);
    } catch (const CliError&) {
        fs::remove_all(handler, ec);
        throw;
    }

    if (args.flag("json")) {
        print_json(ctx.out, {{"name", name},
                             {"lang", *lang},
                             {"handler", display(handler)},
                             {"image", fn.image},
                             {"stack_file", display(stack_file)},
                             {"appended", append.has_value()}});
        return 0;
    }
    ctx.out << "Function " << name << " (template " << tmpl.name << ", " << tmpl.origin << ")\n"
            << "  handler:    " << display(handler) << "/\n"
            << "  stack file: " << display(stack_file) << (append ? " (appended)" : "") << "\n"
            << "  image:      " << fn.image << "\n";
    if (!args.flag("quiet") && !tmpl.welcome_message.empty()) {
        ctx.out << '\n' << tmpl.welcome_message;
        if (tmpl.welcome_message.back() != '\n') ctx.out << '\n';
    }
    const std::string stack_flag =
        display(stack_file) == "stack.yml" ? "" : " -f " + display(stack_file);
    ctx.out << "\nNext: edit " << display(handler) << "/, then faas up" << stack_flag << "\n";
    return 0;
}

int run_template_list(Context& ctx, const ParsedArgs& args) {
    if (!args.positionals().empty()) throw UsageError("template list takes no arguments");
    return list_templates_command(ctx, args, project_dir(args));
}

int run_template_pull(Context& ctx, const ParsedArgs& args) {
    const auto& words = args.positionals();
    if (words.size() > 1) throw UsageError("give one SOURCE: a folder or a git URL");
    const bool overwrite = args.flag("overwrite");
    std::vector<PulledTemplate> pulled;
    std::vector<std::string> kept;
    fs::path dir = project_dir(args);
    if (words.size() == 1) {
        pulled = pull_templates(words[0], dir, overwrite);
    } else {
        // Without a SOURCE: the templates the stack file's configuration names.
        const auto stack = load_stack_from_args(ctx, args);
        if (!stack || stack->templates.empty())
            throw UsageError(
                "give a SOURCE (a folder or a git URL), or a stack file whose configuration lists "
                "templates");
        dir = stack->dir;
        for (const auto& source : stack->templates) {
            std::error_code ec;
            if (!overwrite && fs::exists(dir / "template" / source.name, ec)) {
                kept.push_back(source.name);
                continue;
            }
            for (auto& t : pull_templates(source.source, dir, overwrite, source.name))
                pulled.push_back(std::move(t));
        }
    }
    if (args.flag("json")) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& t : pulled)
            list.push_back({{"name", t.name}, {"dir", display(t.dir)}, {"replaced", t.replaced}});
        print_json(ctx.out, list);
        return 0;
    }
    for (const auto& t : pulled)
        ctx.out << (t.replaced ? "Replaced" : "Added") << " template " << t.name << " in "
                << display(t.dir) << "\n";
    for (const auto& name : kept)
        ctx.out << "Template " << name << " is already in " << display(dir / "template" / name)
                << " (--overwrite replaces it)\n";
    if (pulled.empty() && kept.empty()) ctx.out << "No templates pulled\n";
    return 0;
}

}  // namespace faas::cli
