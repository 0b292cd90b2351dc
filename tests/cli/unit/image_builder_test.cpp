// Images: the build context (shrinkwrap), build args and options, the docker command lines, the
// parallel runner, and `faas build`/`push` against a fake `docker` on PATH, so none of this
// needs a Docker daemon. (Running programs is tested in tests/common/subprocess_test.cpp.)
#include "image_builder.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "app.h"
#include "cli_error.h"
#include "support/files.h"
#include "support/process.h"

using namespace faas;
using namespace faas::cli;
namespace fs = std::filesystem;
using faas::test::read_text;
using faas::test::write_text;

namespace {

/// Every file under `dir` with its content, by relative path.
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file())
            files[fs::relative(entry.path(), dir).string()] = read_text(entry.path());
    }
    return files;
}

/// A stack in `dir` with function `fn` of `lang`, handler ./fn.
Stack stack_in(const fs::path& dir, const std::string& yaml) {
    write_text(dir / "stack.yml", yaml);
    return load_stack(dir / "stack.yml", MapEnv());
}

/// Sets an environment variable of this process for one scope (PATH for a fake docker).
class EnvGuard {
  public:
    EnvGuard(const char* name, const std::string& value) : name_(name) {
        if (const char* old = ::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~EnvGuard() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

class ChangeDir {
  public:
    explicit ChangeDir(const fs::path& dir) : previous_(fs::current_path()) {
        fs::current_path(dir);
    }
    ~ChangeDir() { fs::current_path(previous_); }

  private:
    fs::path previous_;
};

/// A `docker` stand-in: `info` fails when FAKE_DOCKER_DOWN is set; `build` prints its arguments
/// and the builder it was asked for, and fails for an image containing "broken"; `push` echoes.
void install_fake_docker(const fs::path& bin) {
    write_text(
        bin / "docker",
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  info)\n"
        "    if [ -n \"$FAKE_DOCKER_DOWN\" ]; then\n"
        "      echo 'Client: Docker Engine'\n"
        "      echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; "
        "exit 1\n"
        "    fi\n"
        "    echo 20.10.24 ;;\n"
        "  build)\n"
        "    echo \"Step 1/2 : FROM scratch\"\n"
        "    echo \"DOCKER_BUILDKIT=$DOCKER_BUILDKIT\"\n"
        "    echo \"args: $*\"\n"
        "    case \"$*\" in *broken*) echo 'the build broke' >&2; exit 3 ;; esac ;;\n"
        "  push) echo \"The push refers to repository [$2]\" ;;\n"
        "  *) exit 9 ;;\n"
        "esac\n");
    fs::permissions(bin / "docker", fs::perms::owner_all);
}

struct CliRun {
    int code;
    std::string out;
    std::string err;
};

CliRun run_cli(std::vector<std::string> words, const MapEnv& env = MapEnv()) {
    std::istringstream in;
    std::ostringstream out, err;
    Context ctx{env, in, out, err, {}, "/nonexistent-home"};
    const int code = run(ctx, words);
    return {code, out.str(), err.str()};
}

const char* kTwoFunctions =
    "provider:\n  name: openfaas\nfunctions:\n"
    "  hello:\n    lang: mylang\n    handler: ./hello\n    image: 127.0.0.1:5000/hello:latest\n"
    "  other:\n    lang: mylang\n    handler: ./other\n    image: other:latest\n"
    "  fetched:\n    image: ghcr.io/x/fetched:1\n    skip_build: true\n";

/// A project: template/mylang (with a build option) and handlers hello/ and other/.
void make_project(const fs::path& dir) {
    write_text(
        dir / "template" / "mylang" / "template.yml",
        "language: mylang\nfprocess: cat\nbuild_options:\n  - name: dev\n    packages: [gcc, "
        "make]\n");
    write_text(dir / "template" / "mylang" / "Dockerfile",
               "FROM scratch\nCOPY function/ /home/app/\n");
    write_text(dir / "template" / "mylang" / "index.sh", "#!/bin/sh\n");
    write_text(dir / "template" / "mylang" / "function" / "handler.sh", "template placeholder\n");
    write_text(dir / "template" / "mylang" / "function" / "only-in-template.txt", "stale\n");
    write_text(dir / "hello" / "handler.sh", "echo hello\n");
    write_text(dir / "hello" / "lib" / "util.sh", "util\n");
    write_text(dir / "other" / "handler.sh", "echo other\n");
}

}  // namespace

TEST_CASE("the docker build command line") {
    BuildPlan plan;
    plan.function = "hello";
    plan.image = "127.0.0.1:5000/hello:latest";
    plan.context = "build/hello";
    CHECK(docker_build_argv(plan) == std::vector<std::string>{"docker", "build", "--pull=false",
                                                              "-t", "127.0.0.1:5000/hello:latest",
                                                              "build/hello"});
    plan.no_cache = true;
    plan.build_args = {{"B", "2"}, {"ADDITIONAL_PACKAGE", "gcc make"}, {"A", "x=y"}};
    CHECK(docker_build_argv(plan) ==
          std::vector<std::string>{"docker", "build", "--pull=false", "-t",
                                   "127.0.0.1:5000/hello:latest", "--no-cache", "--build-arg",
                                   "A=x=y", "--build-arg", "ADDITIONAL_PACKAGE=gcc make",
                                   "--build-arg", "B=2", "build/hello"});
    CHECK(docker_build_environment() ==
          std::map<std::string, std::string>{{"DOCKER_BUILDKIT", "0"}});
    CHECK(docker_push_argv("r:5000/a:1") ==
          std::vector<std::string>{"docker", "push", "r:5000/a:1"});
}

TEST_CASE("library images (no registry, no account) are the ones push skips") {
    CHECK(is_library_image("hello:latest"));
    CHECK(is_library_image("hello"));
    CHECK_FALSE(is_library_image("alice/hello:latest"));
    CHECK_FALSE(is_library_image("127.0.0.1:5000/hello:latest"));
    CHECK_FALSE(is_library_image("localhost/hello"));
    CHECK_FALSE(is_library_image("ghcr.io/a/b:1"));
}

TEST_CASE("build args: the stack's, --build-arg over them, then ADDITIONAL_PACKAGE from options") {
    TemplateInfo tmpl;
    tmpl.name = "mylang";
    tmpl.build_options = {{"dev", {"gcc", "make"}}, {"img", {"libjpeg"}}};
    FunctionSpec fn;
    fn.name = "hello";
    fn.lang = "mylang";
    fn.build_args = {{"A", "stack"}, {"B", "stack"}};
    fn.build_options = {"dev"};
    BuildSettings settings;
    settings.build_args = {{"B", "flag"}, {"C", "flag"}};
    settings.build_options = {"img"};
    CHECK(build_args_for(fn, &tmpl, settings) ==
          std::map<std::string, std::string>{{"A", "stack"},
                                             {"B", "flag"},
                                             {"C", "flag"},
                                             {"ADDITIONAL_PACKAGE", "gcc make libjpeg"}});

    settings.build_args["ADDITIONAL_PACKAGE"] = "curl";
    CHECK(build_args_for(fn, &tmpl, settings).at("ADDITIONAL_PACKAGE") == "curl gcc make libjpeg");

    settings.build_options = {"gpu"};
    CHECK_THROWS_WITH_AS(build_args_for(fn, &tmpl, settings),
                         "build option 'gpu' is not one of template mylang's (dev, img)", CliError);
    fn.build_options.clear();
    settings = {};
    CHECK(build_args_for(fn, &tmpl, settings) == fn.build_args);
    fn.build_options = {"dev"};
    fn.lang = "dockerfile";
    CHECK_THROWS_WITH_AS(build_args_for(fn, nullptr, settings),
                         doctest::Contains("has no template"), CliError);
}

TEST_CASE("shrinkwrap writes build/<fn>/: the template with the handler in its handler folder") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    const Stack stack = stack_in(root, kTwoFunctions);
    const auto roots = template_roots(MapEnv(), {}, root);
    const TemplateInfo tmpl = require_template(roots, "mylang");

    const fs::path context = shrinkwrap(stack, stack.functions[0], tmpl);
    CHECK(context == root / "build" / "hello");
    CHECK(tree(context) == std::map<std::string, std::string>{
                               {"template.yml", read_text(root / "template/mylang/template.yml")},
                               {"Dockerfile", "FROM scratch\nCOPY function/ /home/app/\n"},
                               {"index.sh", "#!/bin/sh\n"},
                               {"function/handler.sh", "echo hello\n"},
                               {"function/lib/util.sh", "util\n"}});

    // A second run starts afresh: a file deleted from the handler is gone from the context.
    fs::remove_all(root / "hello" / "lib");
    shrinkwrap(stack, stack.functions[0], tmpl);
    CHECK_FALSE(fs::exists(context / "function" / "lib"));
    // The template itself is untouched.
    CHECK(read_text(root / "template/mylang/function/handler.sh") == "template placeholder\n");
}

TEST_CASE("shrinkwrap of a handler that is the stack's own folder leaves build/ out") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    const Stack stack =
        stack_in(root, "functions:\n  self:\n    lang: mylang\n    handler: .\n    image: self\n");
    const TemplateInfo tmpl = require_template(template_roots(MapEnv(), {}, root), "mylang");
    fs::create_directories(root / "build" / "old");
    const fs::path context = shrinkwrap(stack, stack.functions[0], tmpl);
    CHECK(fs::exists(context / "function" / "stack.yml"));
    CHECK(fs::exists(context / "function" / "hello" / "handler.sh"));
    CHECK_FALSE(fs::exists(context / "function" / "build"));
}

TEST_CASE("a missing handler folder is an error naming it and the function") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    const Stack stack =
        stack_in(root, "functions:\n  gone:\n    lang: mylang\n    handler: ./x\n    image: g\n");
    const auto roots = template_roots(MapEnv(), {}, root);
    CHECK_THROWS_WITH_AS(plan_build(stack, stack.functions[0], roots, {}),
                         doctest::Contains("handler folder ./x for function gone not found"),
                         CliError);
    CHECK_FALSE(fs::exists(root / "build" / "gone"));
    write_text(root / "x", "a file\n");
    CHECK_THROWS_WITH_AS(handler_path(stack, stack.functions[0]),
                         "handler ./x for function gone is a file, not a folder", CliError);
}

TEST_CASE("plan_build: template, context and args, and for dockerfile the handler folder itself") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "custom" / "Dockerfile", "FROM scratch\n");
    const Stack stack =
        stack_in(root,
                 "functions:\n  hello:\n    lang: mylang\n    handler: ./hello\n    image: h\n"
                 "    build_options: [dev]\n    build_args: {X: 1}\n"
                 "  custom:\n    lang: dockerfile\n    handler: ./custom\n    image: c\n"
                 "  nodocker:\n    lang: dockerfile\n    handler: ./hello\n    image: n\n"
                 "  badopt:\n    lang: mylang\n    handler: ./hello\n    image: b\n    "
                 "build_options: [gpu]\n"
                 "  nolang:\n    lang: cobol\n    handler: ./hello\n    image: b\n");
    const auto roots = template_roots(MapEnv(), {}, root);
    BuildSettings settings;
    settings.no_cache = true;

    const BuildPlan plan = plan_build(stack, stack.functions[0], roots, settings);
    CHECK(plan.function == "hello");
    CHECK(plan.image == "h");
    CHECK(plan.template_name == "mylang");
    CHECK(plan.context == root / "build" / "hello");
    CHECK(plan.no_cache);
    CHECK(plan.build_args ==
          std::map<std::string, std::string>{{"X", "1"}, {"ADDITIONAL_PACKAGE", "gcc make"}});

    const BuildPlan custom = plan_build(stack, stack.functions[1], roots, settings);
    CHECK(custom.context == root / "custom");
    CHECK(custom.template_name == "dockerfile");
    CHECK_FALSE(fs::exists(root / "build" / "custom"));

    CHECK_THROWS_WITH_AS(plan_build(stack, stack.functions[2], roots, settings),
                         "function nodocker (lang dockerfile) has no Dockerfile in ./hello",
                         CliError);
    CHECK_THROWS_WITH_AS(
        plan_build(stack, stack.functions[3], roots, settings),
        doctest::Contains("build option 'gpu' is not one of template mylang's (dev)"), CliError);
    CHECK_FALSE(fs::exists(root / "build" / "badopt"));
    CHECK_THROWS_WITH_AS(plan_build(stack, stack.functions[4], roots, settings),
                         doctest::Contains("unknown template 'cobol'"), CliError);
}

TEST_CASE("run_parallel keeps to its bound, runs everything once, and rethrows after all finish") {
    std::atomic<int> running{0}, most{0};
    std::vector<std::atomic<int>> ran(12);
    run_parallel(12, 3, [&](size_t i) {
        const int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // Let the workers overlap.
        ++ran[i];
        --running;
    });
    CHECK(most.load() <= 3);
    CHECK(most.load() >= 1);
    for (const auto& count : ran) CHECK(count.load() == 1);

    std::atomic<int> finished{0};
    CHECK_THROWS_WITH(run_parallel(6, 2,
                                   [&](size_t i) {
                                       ++finished;
                                       if (i == 1) throw CliError("one failed");
                                   }),
                      "one failed");
    CHECK(finished.load() == 6);
    run_parallel(0, 4, [](size_t) { FAIL("no work"); });
}

TEST_CASE("LinePrinter prefixes every line with the name") {
    std::ostringstream out;
    LinePrinter printer(out);
    printer.print("hello", "Step 1/3 : FROM scratch");
    printer.print("other", "");
    CHECK(out.str() == "[hello] Step 1/3 : FROM scratch\n[other] \n");
}

TEST_CASE("faas build --shrinkwrap writes the contexts and stops, and says skip_build") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "stack.yml", kTwoFunctions);
    ChangeDir cd(root);
    EnvGuard no_docker("PATH", "/nonexistent");  // Shrinkwrap needs no Docker.
    const auto result = run_cli({"build", "--shrinkwrap"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out ==
          "[hello] build context build/hello (template mylang)\n"
          "[other] build context build/other (template mylang)\n"
          "[fetched] skip_build: true, not built (uses ghcr.io/x/fetched:1)\n");
    CHECK(read_text(root / "build" / "hello" / "function" / "handler.sh") == "echo hello\n");
    CHECK(read_text(root / "build" / "other" / "function" / "handler.sh") == "echo other\n");

    const auto only = run_cli({"build", "--shrinkwrap", "other", "--json"});
    REQUIRE(only.code == 0);
    CHECK(only.out.find("\"status\": \"shrinkwrapped\"") != std::string::npos);
    CHECK(only.out.find("hello") == std::string::npos);
    CHECK(run_cli({"build", "--shrinkwrap", "nope"}).err ==
          "faas: no function nope in stack.yml\n");
}

TEST_CASE("faas build without Docker: one clear error before any build") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "stack.yml", kTwoFunctions);
    ChangeDir cd(root);
    {
        EnvGuard no_docker("PATH", "/nonexistent");
        const auto result = run_cli({"build"});
        CHECK(result.code == 1);
        CHECK(
            result.err ==
            "faas: Docker is needed to build and push, but cannot run docker: not found on PATH\n");
    }
    install_fake_docker(root / "bin");
    EnvGuard fake_docker("PATH", (root / "bin").string() + ":/usr/bin:/bin");
    EnvGuard down("FAKE_DOCKER_DOWN", "1");
    const auto result = run_cli({"build"});
    CHECK(result.code == 1);
    CHECK(result.err ==
          "faas: Docker is not running (docker info: Cannot connect to the Docker daemon at "
          "unix:///var/run/docker.sock.); start it, or check that you may use "
          "/var/run/docker.sock\n");
    CHECK(result.out.empty());
}

TEST_CASE("faas build runs docker build per function, prefixed, in parallel, naming failures") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "stack.yml",
               std::string(kTwoFunctions) +
                   "  broken:\n    lang: mylang\n    handler: ./hello\n    image: broken:latest\n");
    install_fake_docker(root / "bin");
    ChangeDir cd(root);
    EnvGuard fake_docker("PATH", (root / "bin").string() + ":/usr/bin:/bin");

    auto result =
        run_cli({"build", "--filter", "hello", "--build-option", "dev", "-b", "K=v", "--no-cache"});
    INFO(result.err);
    INFO(result.out);
    REQUIRE(result.code == 0);
    CHECK(result.out.find("[hello] build context build/hello (template mylang)\n[hello] building "
                          "127.0.0.1:5000/hello:latest\n[hello] Step 1/2 : FROM scratch\n"
                          "[hello] DOCKER_BUILDKIT=0\n"
                          "[hello] args: build --pull=false -t 127.0.0.1:5000/hello:latest "
                          "--no-cache --build-arg "
                          "ADDITIONAL_PACKAGE=gcc make --build-arg K=v build/hello\n"
                          "[hello] built 127.0.0.1:5000/hello:latest in ") == 0);

    result = run_cli({"build", "--parallel", "3"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: build failed for broken (its output is above)\n");
    CHECK(result.out.find("[broken] the build broke\n") != std::string::npos);
    CHECK(result.out.find("[broken] build failed after ") != std::string::npos);
    CHECK(result.out.find("docker build exited with status 3") != std::string::npos);
    CHECK(result.out.find("[other] built other:latest in ") != std::string::npos);

    result = run_cli({"build", "--quiet", "broken"});
    CHECK(result.code == 1);
    CHECK(result.out.find("[broken] Step 1/2") !=
          std::string::npos);  // A failed quiet build shows its tail.
    result = run_cli({"build", "--quiet", "other"});
    CHECK(result.code == 0);
    CHECK(result.out.find("Step 1/2") == std::string::npos);

    CHECK(run_cli({"build", "--parallel", "0"}).code == 2);
    CHECK(run_cli({"build", "--build-arg", "novalue"}).code == 2);
    CHECK(run_cli({"build", "--build-option", "gpu", "hello"}).err ==
          "faas: build option 'gpu' is not one of template mylang's (dev)\n");
}

TEST_CASE("faas push pushes registry images, skips library images and skip_build with a reason") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "stack.yml", kTwoFunctions);
    install_fake_docker(root / "bin");
    ChangeDir cd(root);
    EnvGuard fake_docker("PATH", (root / "bin").string() + ":/usr/bin:/bin");

    const auto result = run_cli({"push"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out.find("[hello] pushing 127.0.0.1:5000/hello:latest\n"
                          "[hello] The push refers to repository [127.0.0.1:5000/hello:latest]\n"
                          "[hello] pushed 127.0.0.1:5000/hello:latest in ") != std::string::npos);
    CHECK(result.out.find("[other] warning: not pushed: other:latest names no registry") !=
          std::string::npos);
    CHECK(result.out.find("127.0.0.1:5000/other:latest") != std::string::npos);
    CHECK(result.out.find("[fetched] skip_build: true, not pushed\n") != std::string::npos);
}

TEST_CASE("faas up --skip-deploy builds and pushes, and stops at a failed build") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    write_text(root / "stack.yml",
               std::string(kTwoFunctions) +
                   "  broken:\n    lang: mylang\n    handler: ./hello\n    image: broken:latest\n");
    install_fake_docker(root / "bin");
    ChangeDir cd(root);
    EnvGuard fake_docker("PATH", (root / "bin").string() + ":/usr/bin:/bin");

    auto result = run_cli({"up", "--skip-deploy", "hello"});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out.find("[hello] built ") != std::string::npos);
    CHECK(result.out.find("[hello] pushed ") != std::string::npos);

    result = run_cli({"up", "--skip-deploy", "--skip-push", "hello"});
    REQUIRE(result.code == 0);
    CHECK(result.out.find("pushed") == std::string::npos);

    result = run_cli({"up", "-g", "http://127.0.0.1:1"});
    CHECK(result.code == 1);
    CHECK(result.err ==
          "faas: build failed for broken (its output is above); nothing was deployed\n");
    CHECK(result.out.find("pushing") == std::string::npos);
}
