// The local builder with small templates written by each test (an install that writes a file,
// one that fails, a missing program, a failing or slow check, a slow install stopped midway),
// the project's own bash template, and the image folders (LocalImages) the builder publishes.
#include "build/local_builder.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "build_fakes.h"
#include "errors.h"
#include "provider/local/local_images.h"
#include "subprocess.h"
#include "support/files.h"
#include "support/process.h"
#include "support/wait.h"

namespace faas::test {
namespace {

namespace fs = std::filesystem;
using namespace faas::gateway;
using namespace std::chrono_literals;

/// A temp folder with templates/, images/ and contexts/, and a builder over the first two.
struct Fixture {
    TempDir temp;
    fs::path root{temp.path()};
    fs::path templates = root / "templates";
    fs::path images = root / "images";

    LocalBuilderOptions options() const {
        LocalBuilderOptions out;
        out.templates_dir = templates;
        out.images_root = images;
        const char* path = ::getenv("PATH");
        out.base_env = {{"PATH", path ? path : "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
        out.check_timeout = 1s;
        return out;
    }

    /// templates/<lang>/template.yml with `local` as its local: section (none when empty).
    void add_template(const std::string& lang, const std::string& local,
                      const std::string& fprocess = "cat") const {
        write_text(templates / lang / "template.yml",
                   "language: " + lang + "\nfprocess: " + fprocess + "\n" + local);
        write_text(templates / lang / "function" / "handler.sh", "echo template\n");
    }

    /// A build context for `lang` (as the manager unpacks it): its own template.yml (which
    /// the builder must ignore) and a handler.
    BuildJob job_for(const std::string& lang, const std::string& function = "hello",
                     const std::string& version = "v1") const {
        const fs::path context = root / "contexts" / (function + "-" + version);
        write_text(context / "template.yml",
                   "language: " + lang +
                       "\nfprocess: cat\nlocal:\n  install: [touch context-recipe-ran]\n");
        write_text(context / "function" / "handler.sh", "echo from the context\n");
        BuildJob job;
        job.id = "b-" + function + "-" + version;
        job.function = function;
        job.version = version;
        job.context_dir = context;
        job.lang = lang;
        return job;
    }
};

std::string failure_of(LocalBuilder& builder, const BuildJob& job, BuildProgress& progress) {
    try {
        builder.build(job, progress);
    } catch (const BuildFailed& error) {
        return error.what();
    }
    return "(built)";
}

std::string refusal_of(const LocalBuilder& builder, const std::string& lang) {
    try {
        builder.check(lang);
    } catch (const BadRequest& error) {
        return error.what();
    }
    return "(accepted)";
}

constexpr const char* kGoodRecipe =
    "local:\n"
    "  requires: [sh]\n"
    "  install:\n"
    "    - echo installing; echo built > built.txt\n"
    "    - echo \"$GREETING|$HOME|$TMPDIR|${FAAS_BUILDER_TEST_SECRET:-unset}\" > env.txt; "
    "touch \"$HOME/cache-file\"\n"
    "  test: test -f built.txt && echo tested\n"
    "  fprocess: sh function/handler.sh\n"
    "  environment:\n"
    "    mode: http\n"
    "    GREETING: hi\n";

}  // namespace

TEST_CASE("local builder: install and test run in the version folder, which is published") {
    Fixture f;
    f.add_template("good", kGoodRecipe);
    LocalBuilder builder(f.options());
    CHECK_NOTHROW(builder.check("good"));

    ::setenv("FAAS_BUILDER_TEST_SECRET", "the gateway's own", 1);
    RecordingProgress progress;
    const BuildJob job = f.job_for("good");
    const std::string image = builder.build(job, progress);
    ::unsetenv("FAAS_BUILDER_TEST_SECRET");
    CHECK(image == "hello:v1");

    const fs::path dir = f.images / "hello" / "v1";
    CHECK(read_text(dir / "built.txt") == "built\n");
    CHECK(read_text(dir / "function" / "handler.sh") == "echo from the context\n");
    // The gateway's recipe ran, not the one in the context's template.yml.
    CHECK_FALSE(fs::exists(dir / "context-recipe-ran"));
    // The template's environment, HOME and TMPDIR in the build's own folder, and nothing of the
    // gateway's environment beyond base_env.
    const std::string work = (f.images / "hello" / "v1.tmp" / ".build-tmp").string();
    CHECK(read_text(dir / "env.txt") == "hi|" + work + "|" + work + "|unset\n");
    CHECK_FALSE(fs::exists(dir / ".build-tmp"));  // Caches are not kept.
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1.tmp"));
    CHECK_FALSE(fs::exists(job.context_dir));  // Moved, not copied.

    const auto lines = progress.lines();
    const std::vector<std::string> expected = {
        "> echo installing; echo built > built.txt", "installing",
        "> echo \"$GREETING|$HOME|$TMPDIR|${FAAS_BUILDER_TEST_SECRET:-unset}\" > env.txt; "
        "touch \"$HOME/cache-file\"",
        "> test -f built.txt && echo tested", "tested"};
    CHECK(lines == expected);

    LocalImages images(f.images);
    const auto found = images.find(image);
    REQUIRE(found.has_value());
    CHECK(found->dir == dir);
    CHECK(found->fprocess == "sh function/handler.sh");
    CHECK(found->env == std::map<std::string, std::string>{{"mode", "http"}, {"GREETING", "hi"}});
    CHECK(found->lang == "good");
    CHECK_FALSE(found->built_at.empty());

    // A version that exists is never replaced.
    RecordingProgress again;
    CHECK(
        failure_of(builder, f.job_for("good"), again).find("version v1 of hello exists already") ==
        0);
    CHECK(read_text(dir / "built.txt") == "built\n");

    builder.forget(image);
    CHECK_FALSE(fs::exists(dir));
    CHECK_FALSE(images.find(image).has_value());
}

TEST_CASE("local builder: the template's fprocess when local: names none, TEST_ENABLED=false") {
    Fixture f;
    f.add_template("plain", "local:\n  install: [echo ok]\n  test: exit 1\n", "bash run.sh");
    LocalBuilder builder(f.options());

    RecordingProgress failing;
    CHECK(failure_of(builder, f.job_for("plain"), failing) ==
          "test `exit 1` failed with exit status 1");
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1.tmp"));
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1"));

    RecordingProgress progress;
    BuildJob job = f.job_for("plain", "hello", "v2");
    job.build_args["TEST_ENABLED"] = "false";
    CHECK(builder.build(job, progress) == "hello:v2");
    CHECK(progress.has_line("> (test skipped: TEST_ENABLED=false)"));
    const auto found = LocalImages(f.images).find("hello:v2");
    REQUIRE(found.has_value());
    CHECK(found->fprocess == "bash run.sh");
    CHECK(found->env.empty());
}

TEST_CASE("local builder: a failing install step fails the build and leaves nothing behind") {
    Fixture f;
    f.add_template("fails",
                   "local:\n  install:\n    - echo one\n    - echo about to fail; exit 3\n"
                   "    - echo never\n");
    LocalBuilder builder(f.options());
    RecordingProgress progress;
    const BuildJob job = f.job_for("fails");
    CHECK(failure_of(builder, job, progress) ==
          "install step `echo about to fail; exit 3` failed with exit status 3");
    CHECK(progress.has_line("about to fail"));
    CHECK_FALSE(progress.has_line("never"));
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1.tmp"));
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1"));
    CHECK_FALSE(LocalImages(f.images).find("hello:v1").has_value());
}

TEST_CASE(
    "local builder: check refuses unknown langs, templates without local:, missing programs") {
    Fixture f;
    f.add_template("good", kGoodRecipe);
    f.add_template("docker-only", "");
    f.add_template("missing", "local:\n  requires: [sh, faas-no-such-program]\n");
    LocalBuilder builder(f.options());

    CHECK(refusal_of(builder, "python9") ==
          "unknown lang 'python9' (known: docker-only, good, missing)");
    CHECK(refusal_of(builder, "../templates/good").find("unknown lang") == 0);
    CHECK(refusal_of(builder, "").find("unknown lang") == 0);
    CHECK(refusal_of(builder, "docker-only")
              .find("the docker-only template cannot run without Docker") == 0);
    CHECK(refusal_of(builder, "missing") ==
          "faas-no-such-program is not installed on the gateway's host (needed by the missing "
          "template)");

    // A build makes the same checks and fails with the same reason.
    RecordingProgress progress;
    const BuildJob job = f.job_for("missing");
    CHECK(failure_of(builder, job, progress) ==
          "faas-no-such-program is not installed on the gateway's host (needed by the missing "
          "template)");
    CHECK(progress.lines().empty());

    // PATH is base_env's, not the gateway's own.
    auto options = f.options();
    options.base_env["PATH"] = (f.root / "empty-bin").string();
    LocalBuilder without_sh(options);
    CHECK(refusal_of(without_sh, "good") ==
          "sh is not installed on the gateway's host (needed by the good template)");
}

TEST_CASE("local builder: a failing or slow check refuses with its hint, a pass is cached") {
    Fixture f;
    f.add_template("checked",
                   "local:\n  check: echo nope; exit 1\n  check_hint: install the thing\n");
    f.add_template("unhinted", "local:\n  check: echo 'no flask here'; exit 2\n");
    f.add_template("slow", "local:\n  check: sleep 30\n  check_hint: the check hangs\n");
    const fs::path counter = f.root / "checks.txt";
    f.add_template("counted", "local:\n  check: echo ran >> '" + counter.string() + "'\n");
    LocalBuilder builder(f.options());

    CHECK(refusal_of(builder, "checked") == "install the thing");
    CHECK(refusal_of(builder, "unhinted") ==
          "the unhinted template's check `echo 'no flask here'; exit 2` failed with exit status 2: "
          "no flask here");
    const auto start = std::chrono::steady_clock::now();
    CHECK(refusal_of(builder, "slow") ==
          "the check hangs (the slow template's check `sleep 30` did not finish within 1 s)");
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(zombie_children(::getpid()) == 0);

    CHECK_NOTHROW(builder.check("counted"));
    CHECK_NOTHROW(builder.check("counted"));
    RecordingProgress progress;
    CHECK(builder.build(f.job_for("counted"), progress) == "hello:v1");
    CHECK(read_text(counter) == "ran\n");  // Once: the pass is trusted for a minute.

    // A failed check is not cached: it runs again, and passes once the host is fixed.
    const fs::path flag = f.root / "fixed";
    f.add_template("fixable", "local:\n  check: test -f '" + flag.string() + "'\n");
    CHECK(refusal_of(builder, "fixable").find("failed with exit status 1") != std::string::npos);
    write_text(flag, "");
    CHECK_NOTHROW(builder.check("fixable"));
}

TEST_CASE("local builder: a build stopped during a slow install step ends within a second") {
    Fixture f;
    f.add_template("slow", "local:\n  install:\n    - sleep 30 & echo \"pid $!\"; wait\n");
    LocalBuilder builder(f.options());
    RecordingProgress progress;
    const BuildJob job = f.job_for("slow");

    std::atomic<bool> stopped{false};
    std::string other_failure;
    std::thread build([&] {
        try {
            builder.build(job, progress);
        } catch (const BuildStopped&) {
            stopped = true;
        } catch (const std::exception& error) {
            other_failure = error.what();
        }
    });
    pid_t sleeper = 0;
    REQUIRE(wait_until([&] {
        for (const auto& line : progress.lines()) {
            if (line.rfind("pid ", 0) == 0) sleeper = std::stoi(line.substr(4));
        }
        return sleeper > 0;
    }));
    const auto asked = std::chrono::steady_clock::now();
    progress.stop();
    build.join();
    CHECK(std::chrono::steady_clock::now() - asked < 1s);
    CHECK(stopped.load());
    CHECK(other_failure.empty());
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1.tmp"));
    CHECK_FALSE(fs::exists(f.images / "hello" / "v1"));
    // The step's whole process group went: `sleep 30` is gone (or a zombie of init's).
    CHECK(wait_until(
        [&] {
            std::ifstream stat("/proc/" + std::to_string(sleeper) + "/stat");
            std::string pid, comm, state;
            return !(stat >> pid >> comm >> state) || state == "Z";
        },
        5s));
}

TEST_CASE("local builder: the project's bash template builds and its handler answers") {
    const fs::path real_templates = fs::path(FAAS_SOURCE_DIR) / "templates";
    const TemplateInfo bash = read_template(real_templates / "bash");
    if (!bash.local) {
        MESSAGE("templates/bash/template.yml has no local: section yet: skipped");
        return;
    }
    Fixture f;
    auto options = f.options();
    options.templates_dir = real_templates;
    LocalBuilder builder(options);
    CHECK_NOTHROW(builder.check("bash"));

    // The context as `faas build --shrinkwrap` writes it: the template with the handler in it.
    const fs::path context = f.root / "context";
    fs::copy(real_templates / "bash", context, fs::copy_options::recursive);
    BuildJob job;
    job.id = "b1";
    job.function = "greeter";
    job.version = "v1";
    job.context_dir = context;
    job.lang = "bash";
    RecordingProgress progress;
    const std::string image = builder.build(job, progress);
    CHECK(image == "greeter:v1");
    const auto lines = progress.lines();
    INFO(lines.size());
    const auto found = LocalImages(f.images).find(image);
    REQUIRE(found.has_value());
    CHECK(found->fprocess == "bash function/handler.sh");

    // What a replica would run, from the version folder.
    ProcessOptions run;
    run.working_dir = found->dir;
    run.stdin_text = "World";
    const auto result = run_process({"sh", "-c", found->fprocess}, run);
    CHECK(result.exit_code == 0);
    CHECK(result.output == "Hello from bash! You said: World\n");
}

TEST_CASE("local images: find is strict about names and manifests, remove stays inside root") {
    TempDir temp;
    const fs::path root = fs::path(temp.path()) / "images";
    LocalImages images(root);
    CHECK(fs::is_directory(root));

    LocalImage image;
    image.image = "fn:v1";
    image.dir = images.dir_for("fn", "v1");
    image.fprocess = "python3 index.py";
    image.env = {{"mode", "http"}};
    image.lang = "python3-http";
    fs::create_directories(image.dir);
    images.write_manifest(image);
    const auto found = images.find("fn:v1");
    REQUIRE(found.has_value());
    CHECK(found->dir == root / "fn" / "v1");
    CHECK(found->fprocess == "python3 index.py");
    CHECK(found->env == image.env);
    CHECK_FALSE(found->built_at.empty());  // Filled in when not given.

    // Outside the root, or not plain names: never found, never removed.
    write_text(fs::path(temp.path()) / "outside" / "v1" / kLocalImageManifest,
               R"({"image":"../outside:v1","fprocess":"x"})");
    for (const char* bad : {"../outside:v1", "fn", "fn:", ":v1", "fn:v1:x", "fn/v1:v1", "fn:..",
                            "..:v1", "fn:v1.tmp", "fn:v1/../v1", "/etc:passwd"}) {
        INFO(bad);
        CHECK_FALSE(images.find(bad).has_value());
        images.remove(bad);
    }
    CHECK(fs::exists(fs::path(temp.path()) / "outside" / "v1"));
    CHECK(images.find("fn:v1").has_value());
    CHECK_THROWS_AS(images.dir_for("..", "v1"), std::invalid_argument);
    CHECK_THROWS_AS(images.dir_for("fn", "a/b"), std::invalid_argument);

    // A folder without a manifest, a manifest naming another image, a link: not images.
    fs::create_directories(root / "fn" / "v2");
    CHECK_FALSE(images.find("fn:v2").has_value());
    write_text(root / "fn" / "v3" / kLocalImageManifest, R"({"image":"fn:v1","fprocess":"x"})");
    CHECK_FALSE(images.find("fn:v3").has_value());
    write_text(root / "fn" / "v4" / kLocalImageManifest, "not json");
    CHECK_FALSE(images.find("fn:v4").has_value());
    fs::create_directory_symlink(root / "fn" / "v1", root / "fn" / "v5");
    CHECK_FALSE(images.find("fn:v5").has_value());
    images.remove("fn:v5");
    CHECK(fs::exists(root / "fn" / "v1" / kLocalImageManifest));

    images.remove("fn:v1");
    CHECK_FALSE(fs::exists(root / "fn" / "v1"));
    CHECK(fs::exists(root / "fn"));  // Other versions are still there.
}

TEST_CASE("local builder: unchanged dependency files reuse what the previous version installed") {
    Fixture f;
    // The install step counts its runs in a file outside the version folders.
    const std::string counter = (f.root / "install-runs").string();
    f.add_template("deps",
                   "local:\n"
                   "  install:\n"
                   "    - echo run >> " +
                       counter +
                       "; mkdir -p lib; cp function/reqs.txt lib/installed\n"
                       "  dependencies:\n"
                       "    files: [function/reqs.txt, function/lock.txt]\n"
                       "    installed: [lib]\n"
                       "  fprocess: cat\n");
    LocalBuilder builder(f.options());
    const auto build = [&](const std::string& version, const std::string& reqs,
                           const std::string& handler) {
        BuildJob job = f.job_for("deps", "hello", version);
        write_text(job.context_dir / "function" / "reqs.txt", reqs);
        write_text(job.context_dir / "function" / "handler.sh", handler);
        RecordingProgress progress;
        builder.build(job, progress);
        return progress.lines();
    };
    const auto runs = [&] { return read_text(counter); };

    build("v1", "flask\n", "echo one\n");
    CHECK(runs() == "run\n");

    // Only the handler changed: linked, not installed again; the same file, not a copy.
    const auto second = build("v2", "flask\n", "echo two\n");
    CHECK(runs() == "run\n");
    CHECK(std::find(second.begin(), second.end(),
                    "> dependencies unchanged since v1 (function/reqs.txt, function/lock.txt): "
                    "reusing what it installed; install steps skipped") != second.end());
    const fs::path v1 = f.images / "hello" / "v1";
    const fs::path v2 = f.images / "hello" / "v2";
    CHECK(read_text(v2 / "lib" / "installed") == "flask\n");
    CHECK(read_text(v2 / "function" / "handler.sh") == "echo two\n");
    CHECK(fs::equivalent(v1 / "lib" / "installed", v2 / "lib" / "installed"));

    // Reuse is from the newest version, and stops at the first file that changed.
    const auto third = build("v3", "flask\nrequests\n", "echo three\n");
    CHECK(runs() == "run\nrun\n");
    CHECK(std::find(third.begin(), third.end(),
                    "> function/reqs.txt changed since v2: installing") != third.end());
    CHECK(read_text(f.images / "hello" / "v3" / "lib" / "installed") == "flask\nrequests\n");

    // A file that appears counts as a change; another function never shares.
    BuildJob with_lock = f.job_for("deps", "hello", "v4");
    write_text(with_lock.context_dir / "function" / "reqs.txt", "flask\nrequests\n");
    write_text(with_lock.context_dir / "function" / "lock.txt", "pinned\n");
    RecordingProgress progress;
    builder.build(with_lock, progress);
    CHECK(runs() == "run\nrun\nrun\n");
    BuildJob other = f.job_for("deps", "other", "v1");
    write_text(other.context_dir / "function" / "reqs.txt", "flask\n");
    RecordingProgress other_progress;
    builder.build(other, other_progress);
    CHECK(runs() == "run\nrun\nrun\nrun\n");
}

}  // namespace faas::test
