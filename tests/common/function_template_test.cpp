// template.yml: the OpenFaaS keys, the `local:` section (parsed, unknown keys refused with the
// line), the size bound, and the project's own templates all reading.
#include "function_template.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/process.h"

using namespace faas;
namespace fs = std::filesystem;
using faas::test::write_text;

TEST_CASE("function template: a local: section is read with its defaults") {
    test::TempDir dir;
    const fs::path root(dir.path());
    write_text(root / "py" / "template.yml",
               "language: python3-http\n"
               "fprocess: python3 index.py\n"
               "local:\n"
               "  requires: [python3, pip3]\n"
               "  check: python3 -c \"import flask\"\n"
               "  check_hint: \"apt-get install python3-flask\"\n"
               "  install:\n"
               "    - python3 -m pip install --target deps -r function/requirements.txt\n"
               "    - echo done\n"
               "  test: python3 -m unittest\n"
               "  environment:\n"
               "    mode: http\n"
               "    upstream_url: http://127.0.0.1:5000\n"
               "    PYTHONPATH: deps\n"
               "    http_port: 5000\n"
               "  dependencies:\n"
               "    files: [function/requirements.txt, install-requirements.py]\n"
               "    installed: deps\n");
    const TemplateInfo info = read_template(root / "py");
    CHECK(info.name == "py");
    CHECK(info.language == "python3-http");
    CHECK(info.fprocess == "python3 index.py");
    REQUIRE(info.local.has_value());
    const LocalRecipe& local = *info.local;
    CHECK(local.required_programs == std::vector<std::string>{"python3", "pip3"});
    CHECK(local.check == "python3 -c \"import flask\"");
    CHECK(local.check_hint == "apt-get install python3-flask");
    CHECK(local.install ==
          std::vector<std::string>{
              "python3 -m pip install --target deps -r function/requirements.txt", "echo done"});
    CHECK(local.test == "python3 -m unittest");
    CHECK(local.fprocess.empty());  // The builder falls back to the top-level fprocess.
    CHECK(local.environment ==
          std::map<std::string, std::string>{{"mode", "http"},
                                             {"upstream_url", "http://127.0.0.1:5000"},
                                             {"PYTHONPATH", "deps"},
                                             {"http_port", "5000"}});
    REQUIRE(local.dependencies.has_value());
    CHECK(local.dependencies->files ==
          std::vector<std::string>{"function/requirements.txt", "install-requirements.py"});
    CHECK(local.dependencies->installed == std::vector<std::string>{"deps"});

    // One install command may be written without a list; an empty local: is a recipe too.
    write_text(root / "one" / "template.yml",
               "language: one\nlocal:\n  install: make\n  requires: cc\n  fprocess: ./main\n");
    const TemplateInfo one = read_template(root / "one");
    REQUIRE(one.local.has_value());
    CHECK(one.local->install == std::vector<std::string>{"make"});
    CHECK(one.local->required_programs == std::vector<std::string>{"cc"});
    CHECK(one.local->fprocess == "./main");
    CHECK_FALSE(one.local->dependencies.has_value());  // Every build installs.
    write_text(root / "empty" / "template.yml", "language: empty\nlocal:\n");
    CHECK(read_template(root / "empty").local.has_value());
    write_text(root / "docker-only" / "template.yml", "language: x\nfprocess: cat\n");
    CHECK_FALSE(read_template(root / "docker-only").local.has_value());
}

TEST_CASE("function template: bad local: sections are refused with the file and line") {
    test::TempDir dir;
    const fs::path root(dir.path());
    auto fails_with = [&](const std::string& yaml) -> std::string {
        write_text(root / "t" / "template.yml", yaml);
        try {
            read_template(root / "t");
        } catch (const TemplateError& error) {
            return error.what();
        }
        return "(read without error)";
    };
    const std::string file = (root / "t" / "template.yml").string();

    CHECK(fails_with("language: t\nlocal:\n  install: [make]\n  instal: [oops]\n") ==
          file +
              ":4: unknown key 'instal' under local: (known: requires, check, check_hint, "
              "install, test, fprocess, environment, dependencies)");
    CHECK(fails_with("language: t\nlocal: [a, b]\n").find(file + ":2: local must be a map") == 0);
    CHECK(fails_with("language: t\nlocal:\n  requires: [bin/python3]\n")
              .find("requires 'bin/python3', which is not a program name") != std::string::npos);
    CHECK(
        fails_with("language: t\nlocal:\n  environment: [a]\n").find("environment must be a map") !=
        std::string::npos);
    CHECK(fails_with("language: t\nlocal:\n  environment:\n    BAD-NAME: x\n")
              .find(file + ":4: local: environment: 'BAD-NAME' is not a variable name") == 0);
    CHECK(fails_with("language: t\nlocal:\n  install:\n    - [nested]\n")
              .find("each item of install must be a single value") != std::string::npos);
    CHECK(fails_with("language: t\nlocal:\n  test: {a: b}\n")
              .find(file + ":3: test must be a single value") == 0);
    // Dependencies name paths inside the version folder, both kinds of them.
    for (const char* path : {"../up", "/abs", "a/../../b", "./x", ""}) {
        INFO(path);
        CHECK(fails_with(std::string("language: t\nlocal:\n  dependencies:\n    files: ['") + path +
                         "']\n    installed: [deps]\n")
                  .find("is not a path inside the function's folder") != std::string::npos);
    }
    CHECK(fails_with("language: t\nlocal:\n  dependencies:\n    files: [a]\n")
              .find(file + ":3: local: dependencies needs both files and installed") == 0);
    CHECK(fails_with("language: t\nlocal:\n  dependencies:\n    files: [a]\n    cache: [b]\n")
              .find("unknown key 'cache' under local: dependencies: (known: files, installed)") !=
          std::string::npos);
    CHECK(fails_with("language: t\nlocal:\n  dependencies: [a]\n")
              .find("dependencies must be a map of files and installed") != std::string::npos);
    // Keys of OpenFaaS's own format that this project does not use are still left alone.
    CHECK(fails_with("language: t\nstack: whatever\nlocal:\n  test: ok\n") ==
          "(read without error)");
}

TEST_CASE("function template: missing, malformed and oversized files are TemplateErrors") {
    test::TempDir dir;
    const fs::path root(dir.path());
    CHECK_THROWS_WITH_AS(read_template(root / "absent"), doctest::Contains("not a template folder"),
                         TemplateError);
    write_text(root / "bad" / "template.yml", "language: [unclosed\n");
    CHECK_THROWS_WITH_AS(read_template(root / "bad"), doctest::Contains("template.yml:"),
                         TemplateError);
    write_text(root / "big" / "template.yml",
               "language: big\n# " + std::string(kMaxTemplateFileBytes, 'x') + "\n");
    CHECK_THROWS_WITH_AS(read_template(root / "big"), doctest::Contains("larger than 64 KiB"),
                         TemplateError);
    write_text(root / "out" / "template.yml", "language: out\nhandler_folder: ../elsewhere\n");
    CHECK_THROWS_WITH_AS(read_template(root / "out"),
                         doctest::Contains("handler_folder must be a folder inside"),
                         TemplateError);
}

TEST_CASE("function template: the project's own templates all read") {
    const fs::path templates = fs::path(FAAS_SOURCE_DIR) / "templates";
    int read = 0;
    for (const auto& entry : fs::directory_iterator(templates)) {
        if (!entry.is_directory()) continue;
        INFO(entry.path().string());
        const TemplateInfo info = read_template(entry.path());
        CHECK(info.name == entry.path().filename().string());
        CHECK_FALSE(info.language.empty());
        ++read;
    }
    CHECK(read >= 6);
}
