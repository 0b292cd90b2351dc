// Templates: where they are found and in what order, template.yml, build options, pulling them
// from a folder or a git repository, and `faas new` / `faas template list|pull` run in-process.
#include "templates.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "app.h"
#include "cli_error.h"
#include "stack_file.h"
#include "subprocess.h"
#include "support/files.h"
#include "support/process.h"

using namespace faas;
using namespace faas::cli;
namespace fs = std::filesystem;
using faas::test::read_text;
using faas::test::write_text;

namespace {

/// A minimal valid template `lang` under `root`, its template.yml saying `marker` as fprocess.
void make_template(const fs::path& root, const std::string& lang, const std::string& marker = "cat",
                   const std::string& extra_yaml = "") {
    write_text(root / lang / "template.yml",
               "language: " + lang + "\nfprocess: " + marker + "\n" + extra_yaml);
    write_text(root / lang / "Dockerfile", "FROM scratch\n");
    write_text(root / lang / "function" / "handler.txt", "handler of " + lang + "\n");
}

/// Runs in another current folder for one scope (the commands write to ./).
class ChangeDir {
  public:
    explicit ChangeDir(const fs::path& dir) : previous_(fs::current_path()) {
        fs::current_path(dir);
    }
    ~ChangeDir() { fs::current_path(previous_); }

  private:
    fs::path previous_;
};

/// The line of `text` that starts with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(prefix, 0) == 0) return line;
    return "";
}

struct CliRun {
    int code;
    std::string out;
    std::string err;
};

CliRun run_cli(const Env& env, std::vector<std::string> words, const fs::path& exe_dir = {}) {
    std::istringstream in;
    std::ostringstream out, err;
    Context ctx{env, in, out, err, exe_dir, "/nonexistent-home"};
    const int code = run(ctx, words);
    return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE(
    "template roots: project, FAAS_TEMPLATES, installed, source, leaving out missing folders") {
    test::TempDir dir;
    const fs::path root(dir.path());
    fs::create_directories(root / "project" / "template");
    fs::create_directories(root / "env-templates");
    fs::create_directories(root / "prefix" / "bin");
    fs::create_directories(root / "prefix" / "share" / "faas" / "templates");

    const MapEnv env({{"FAAS_TEMPLATES", (root / "env-templates").string()}});
    const auto roots = template_roots(env, root / "prefix" / "bin", root / "project");
    REQUIRE(roots.size() >= 3);
    CHECK(roots[0].origin == "project");
    CHECK(roots[0].dir == (root / "project" / "template").lexically_normal());
    CHECK(roots[1].origin == "FAAS_TEMPLATES");
    CHECK(roots[2].origin == "installed");
    CHECK(roots[2].dir == (root / "prefix" / "share" / "faas" / "templates").lexically_normal());
    if (roots.size() == 4) CHECK(roots[3].origin == "source");

    const auto fewer = template_roots(MapEnv(), root / "nowhere", root / "no-project");
    for (const auto& r : fewer) CHECK(r.origin == "source");
}

TEST_CASE("a template in the project hides one of the same name further down") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "project" / "template", "python3", "project-python");
    make_template(root / "env", "python3", "env-python");
    make_template(root / "env", "extra", "env-extra");
    const MapEnv env({{"FAAS_TEMPLATES", (root / "env").string()}});
    const auto roots = template_roots(env, {}, root / "project");

    const auto found = find_template(roots, "python3");
    REQUIRE(found);
    CHECK(found->fprocess == "project-python");
    CHECK(found->origin == "project");
    CHECK(find_template(roots, "extra")->origin == "FAAS_TEMPLATES");
    CHECK_FALSE(find_template(roots, "nope"));
    CHECK_FALSE(find_template(roots, "../project"));
    CHECK_FALSE(find_template(roots, ""));

    const auto listed = list_templates(roots);
    const auto python = std::find_if(listed.begin(), listed.end(),
                                     [](const auto& t) { return t.name == "python3"; });
    REQUIRE(python != listed.end());
    CHECK(python->origin == "project");
    CHECK(std::count_if(listed.begin(), listed.end(),
                        [](const auto& t) { return t.name == "python3"; }) == 1);
    CHECK(std::is_sorted(listed.begin(), listed.end(),
                         [](const auto& a, const auto& b) { return a.name < b.name; }));
}

TEST_CASE("an unknown template is an error listing the known ones") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "t", "alpha");
    make_template(root / "t", "beta");
    const std::vector<TemplateRoot> roots = {{root / "t", "project"}};
    CHECK_THROWS_WITH_AS(
        require_template(roots, "gamma"),
        "unknown template 'gamma' (known: alpha, beta); `faas template pull SOURCE` adds more",
        CliError);
    CHECK(require_template(roots, "beta").name == "beta");
    CHECK_THROWS_WITH_AS(require_template({}, "x"), doctest::Contains("(no templates found)"),
                         CliError);
}

TEST_CASE("template.yml: every field, and defaults") {
    test::TempDir dir;
    const fs::path root(dir.path());
    write_text(
        root / "py" / "template.yml",
        "language: python3\nfprocess: python3 index.py\nhandler_folder: src\nbuild_options:\n"
        "  - name: dev\n    packages: [make, gcc]\n  - name: none\nwelcome_message: |\n  Hello.\n  "
        "Edit it.\n"
        "other_key: kept for faas-cli\n");
    const TemplateInfo info = load_template(root / "py");
    CHECK(info.name == "py");
    CHECK(info.language == "python3");
    CHECK(info.fprocess == "python3 index.py");
    CHECK(info.handler_folder == "src");
    REQUIRE(info.build_options.size() == 2);
    CHECK(info.build_options[0].name == "dev");
    CHECK(info.build_options[0].packages == std::vector<std::string>{"make", "gcc"});
    CHECK(info.build_options[1].packages.empty());
    CHECK(info.welcome_message == "Hello.\nEdit it.\n");

    write_text(root / "min" / "template.yml", "language: x\n");
    CHECK(load_template(root / "min").handler_folder == "function");

    write_text(root / "bad" / "template.yml", "language: x\nbuild_options: 3\n");
    CHECK_THROWS_WITH_AS(load_template(root / "bad"),
                         doctest::Contains("template.yml:2: build_options must be a list"),
                         CliError);
    write_text(root / "bad" / "template.yml", "language: x\nfprocess: [a\n");
    CHECK_THROWS_WITH_AS(load_template(root / "bad"), doctest::Contains("template.yml:"), CliError);
    write_text(root / "bad" / "template.yml", "handler_folder: ../../etc\n");
    CHECK_THROWS_WITH_AS(load_template(root / "bad"),
                         doctest::Contains("handler_folder must be a folder inside"), CliError);
    CHECK_THROWS_WITH_AS(load_template(root / "absent"), doctest::Contains("not a template folder"),
                         CliError);
}

TEST_CASE("validate_template wants a Dockerfile (except for dockerfile) and the handler folder") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root, "ok");
    CHECK(validate_template(root / "ok").name == "ok");
    fs::remove(root / "ok" / "Dockerfile");
    CHECK_THROWS_WITH_AS(validate_template(root / "ok"), doctest::Contains("has no Dockerfile"),
                         CliError);
    write_text(root / "dockerfile" / "template.yml", "language: dockerfile\n");
    write_text(root / "dockerfile" / "function" / "Dockerfile", "FROM scratch\n");
    CHECK(validate_template(root / "dockerfile").name == "dockerfile");
    fs::remove_all(root / "dockerfile" / "function");
    CHECK_THROWS_WITH_AS(validate_template(root / "dockerfile"),
                         doctest::Contains("has no handler folder function/"), CliError);
}

TEST_CASE("build options become ADDITIONAL_PACKAGE, in order without repeats") {
    TemplateInfo tmpl;
    tmpl.name = "python3";
    tmpl.build_options = {{"dev", {"gcc", "make"}}, {"img", {"libjpeg", "gcc"}}};
    CHECK(additional_packages(tmpl, {}) == "");
    CHECK(additional_packages(tmpl, {"dev"}) == "gcc make");
    CHECK(additional_packages(tmpl, {"img", "dev"}) == "libjpeg gcc make");
    CHECK(additional_packages(tmpl, {"dev", "dev"}) == "gcc make");
    CHECK_THROWS_WITH_AS(additional_packages(tmpl, {"gpu"}),
                         "build option 'gpu' is not one of template python3's (dev, img)",
                         CliError);
    tmpl.build_options.clear();
    CHECK_THROWS_WITH_AS(additional_packages(tmpl, {"dev"}), doctest::Contains("(it has none)"),
                         CliError);
}

TEST_CASE("git sources are told from folders") {
    CHECK(is_git_source("https://github.com/openfaas/templates"));
    CHECK(is_git_source("https://github.com/openfaas/templates#1.0"));
    CHECK(is_git_source("git@github.com:openfaas/templates.git"));
    CHECK(is_git_source("file:///srv/templates"));
    CHECK(is_git_source("/srv/templates.git"));
    CHECK_FALSE(is_git_source("./my-templates"));
    CHECK_FALSE(is_git_source("/srv/templates"));
}

TEST_CASE("pulling templates from a folder: template/<lang>/ or <lang>/, refusing to overwrite") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "repo" / "template", "alpha", "first");
    make_template(root / "repo" / "template", "beta");
    write_text(root / "repo" / "template" / "alpha" / "nested" / "deep.txt", "deep\n");
    const fs::path project = root / "project";
    fs::create_directories(project);

    auto pulled = pull_templates((root / "repo").string(), project, false);
    REQUIRE(pulled.size() == 2);
    CHECK(pulled[0].name == "alpha");
    CHECK_FALSE(pulled[0].replaced);
    CHECK(read_text(project / "template" / "alpha" / "nested" / "deep.txt") == "deep\n");
    CHECK(read_text(project / "template" / "beta" / "function" / "handler.txt") ==
          "handler of beta\n");

    make_template(root / "repo" / "template", "alpha", "second");
    CHECK_THROWS_WITH_AS(pull_templates((root / "repo").string(), project, false),
                         doctest::Contains("template alpha already exists"), CliError);
    CHECK(load_template(project / "template" / "alpha").fprocess == "first");
    pulled = pull_templates((root / "repo").string(), project, true);
    CHECK(pulled[0].replaced);
    CHECK(load_template(project / "template" / "alpha").fprocess == "second");

    make_template(root / "flat", "gamma");
    pulled = pull_templates((root / "flat").string(), project, false);
    REQUIRE(pulled.size() == 1);
    CHECK(fs::exists(project / "template" / "gamma" / "Dockerfile"));

    // One bad template stops the pull before anything is copied.
    make_template(root / "mixed", "delta");
    make_template(root / "mixed", "epsilon");
    fs::remove(root / "mixed" / "epsilon" / "Dockerfile");
    CHECK_THROWS_WITH_AS(pull_templates((root / "mixed").string(), project, false),
                         doctest::Contains("template epsilon"), CliError);
    CHECK_FALSE(fs::exists(project / "template" / "delta"));

    CHECK_THROWS_WITH_AS(pull_templates((root / "absent").string(), project, false),
                         doctest::Contains("is not a folder or a git URL"), CliError);
    fs::create_directories(root / "empty");
    CHECK_THROWS_WITH_AS(pull_templates((root / "empty").string(), project, false),
                         doctest::Contains("no templates in"), CliError);
}

TEST_CASE("pulling templates from a git repository, with #branch") {
    test::TempDir dir;
    const fs::path root(dir.path());
    const fs::path repo = root / "repo";
    make_template(repo / "template", "gitlang", "on-main");
    ProcessOptions options;
    options.working_dir = repo;
    options.environment = {{"GIT_AUTHOR_NAME", "t"},
                           {"GIT_AUTHOR_EMAIL", "t@example.com"},
                           {"GIT_COMMITTER_NAME", "t"},
                           {"GIT_COMMITTER_EMAIL", "t@example.com"},
                           {"GIT_CONFIG_GLOBAL", "/dev/null"}};
    auto git = [&](std::vector<std::string> words) {
        words.insert(words.begin(), "git");
        const auto result = run_process(words, options);
        INFO(result.output);
        REQUIRE(result.exit_code == 0);
    };
    git({"init", "-q", "-b", "main"});
    git({"add", "."});
    git({"commit", "-q", "-m", "one"});
    git({"checkout", "-q", "-b", "other"});
    make_template(repo / "template", "gitlang", "on-other");
    git({"commit", "-q", "-am", "two"});
    git({"checkout", "-q", "main"});

    const fs::path project = root / "project";
    fs::create_directories(project);
    auto pulled = pull_templates("file://" + repo.string(), project, false);
    REQUIRE(pulled.size() == 1);
    CHECK(load_template(project / "template" / "gitlang").fprocess == "on-main");
    CHECK_FALSE(fs::exists(project / "template" / "gitlang" / ".git"));
    pulled = pull_templates("file://" + repo.string() + "#other", project, true);
    CHECK(load_template(project / "template" / "gitlang").fprocess == "on-other");
    CHECK_THROWS_WITH_AS(pull_templates("file://" + (root / "no-repo").string(), project, true),
                         doctest::Contains("git clone file://"), CliError);
}

TEST_CASE("faas new writes the handler and NAME.yml, and refuses to overwrite") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "work" / "template", "mylang", "cat",
                  "welcome_message: Welcome to mylang.\n");
    ChangeDir cd(root / "work");
    const MapEnv env;

    auto result = run_cli(env, {"new", "hello", "--lang", "mylang", "-g", "http://gw:9999/"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(read_text("hello/handler.txt") == "handler of mylang\n");
    CHECK(read_text("hello.yml") ==
          "version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://gw:9999\nfunctions:\n  "
          "hello:\n"
          "    lang: mylang\n    handler: ./hello\n    image: hello:latest\n");
    CHECK(result.out.find("Welcome to mylang.") != std::string::npos);
    CHECK(result.out.find("hello.yml") != std::string::npos);

    result = run_cli(env, {"new", "hello", "--lang", "mylang"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: folder hello already exists; choose another name or remove it\n");

    result = run_cli(env, {"new", "second", "--lang", "mylang", "--prefix", "127.0.0.1:5000/",
                           "--append", "hello.yml", "--quiet"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out.find("Welcome") == std::string::npos);
    const Stack stack = load_stack("hello.yml", env);
    REQUIRE(stack.functions.size() == 2);
    CHECK(stack.functions[1].name == "second");
    CHECK(stack.functions[1].image == "127.0.0.1:5000/second:latest");
    CHECK(fs::exists("second/handler.txt"));

    result = run_cli(env, {"new", "third", "--lang", "nolang"});
    CHECK(result.code == 1);
    CHECK(result.err.find("unknown template 'nolang'") != std::string::npos);
    CHECK(result.err.find("mylang") != std::string::npos);
    CHECK_FALSE(fs::exists("third"));

    result = run_cli(env, {"new", "Bad_Name", "--lang", "mylang"});
    CHECK(result.code == 2);
    CHECK(result.err.find("not a valid function name") != std::string::npos);
    result = run_cli(env, {"new", "fourth"});
    CHECK(result.code == 2);
    CHECK(result.err.find("--lang is required") != std::string::npos);

    result = run_cli(env, {"new", "fifth", "--lang", "mylang", "--append", "absent.yml"});
    CHECK(result.code == 1);
    CHECK_FALSE(fs::exists("fifth"));

    result = run_cli(env, {"new", "sixth", "--lang", "mylang", "--json"});
    REQUIRE(result.code == 0);
    CHECK(result.out.find("\"image\": \"sixth:latest\"") != std::string::npos);
}

TEST_CASE("faas new with the project's templates: python3 from the source tree") {
    if (!fs::exists(fs::path(FAAS_SOURCE_DIR) / "templates" / "python3" / "template.yml")) return;
    test::TempDir dir;
    ChangeDir cd(dir.path());
    const auto result = run_cli(MapEnv(), {"new", "pyfn", "--lang", "python3", "--quiet"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(fs::exists("pyfn/handler.py"));
    CHECK(load_stack("pyfn.yml", MapEnv()).functions[0].lang == "python3");
}

TEST_CASE("faas template list and new --list show each template and where it is from") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "work" / "template", "localone");
    make_template(root / "env", "envone");
    ChangeDir cd(root / "work");
    const MapEnv env({{"FAAS_TEMPLATES", (root / "env").string()}});

    auto result = run_cli(env, {"template", "list"});
    REQUIRE(result.code == 0);
    CHECK(result.out.rfind("TEMPLATE", 0) == 0);
    CHECK(line_starting(result.out, "localone ").find(" project ") != std::string::npos);
    CHECK(line_starting(result.out, "envone ").find(" FAAS_TEMPLATES ") != std::string::npos);
    CHECK(run_cli(env, {"new", "--list"}).out == result.out);

    result = run_cli(env, {"template", "list", "--json"});
    REQUIRE(result.code == 0);
    CHECK(result.out.find("\"name\": \"envone\"") != std::string::npos);
    CHECK(result.out.find("\"origin\": \"FAAS_TEMPLATES\"") != std::string::npos);
}

TEST_CASE("faas template pull copies into ./template and says what was added") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_template(root / "source" / "template", "pulled");
    fs::create_directories(root / "work");
    ChangeDir cd(root / "work");
    const MapEnv env;

    auto result = run_cli(env, {"template", "pull", (root / "source").string()});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out == "Added template pulled in template/pulled\n");
    result = run_cli(env, {"template", "pull", (root / "source").string()});
    CHECK(result.code == 1);
    CHECK(result.err.find("--overwrite replaces it") != std::string::npos);
    result = run_cli(env, {"template", "pull", (root / "source").string(), "--overwrite"});
    CHECK(result.out == "Replaced template pulled in template/pulled\n");

    // Without a SOURCE: the stack file's configuration.templates.
    make_template(root / "other", "fromstack");
    write_text("stack.yml", "configuration:\n  templates:\n    - name: fromstack\n      source: " +
                                (root / "other").string() + "\nfunctions: {}\n");
    result = run_cli(env, {"template", "pull"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out == "Added template fromstack in template/fromstack\n");
    result = run_cli(env, {"template", "pull"});
    CHECK(result.out ==
          "Template fromstack is already in template/fromstack (--overwrite replaces it)\n");
}
