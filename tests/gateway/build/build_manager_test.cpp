// The build manager with a scripted builder and an in-memory provider: the states a build goes
// through, queueing, cancelling, time limits, restarts, versions and rollbacks.
#include "build/build_manager.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "build_fakes.h"
#include "support/files.h"
#include "support/wait.h"

namespace faas::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

struct TempDir {
    fs::path path;
    TempDir() {
        char name[] = "/tmp/build-manager-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

BuildManagerOptions options_for(const fs::path& root) {
    BuildManagerOptions options;
    options.templates_dir = fs::path(FAAS_SOURCE_DIR) / "templates";
    options.ready_timeout = 2s;
    options.build_timeout = 10s;
    (void)root;
    return options;
}

BuildRequest request_for(const std::string& name, const std::string& code = "x = 1\n") {
    json body{{"service", name}, {"lang", "python3-http"}, {"code", code}};
    return parse_json_build(body.dump(), "openfaas-fn", {});
}

BuildStage status_of_build(BuildManager& manager, const std::string& id) {
    auto record = manager.get(id);
    REQUIRE(record);
    return record->status;
}

bool finishes(BuildManager& manager, const std::string& id) {
    return wait_until([&] { return is_finished(status_of_build(manager, id)); }, 10s);
}

std::vector<std::string> stage_names(const BuildRecord& record) {
    std::vector<std::string> out;
    for (const auto& timing : record.stages) out.emplace_back(stage_name(timing.stage));
    return out;
}

}  // namespace

TEST_CASE("a build goes queued, building, deploying, ready, and the function runs its image") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    BuildManager manager(options_for(dir.path), store, builder, provider);

    auto queued = manager.submit(request_for("hello"));
    CHECK(queued.status == BuildStage::kQueued);
    CHECK(queued.version == "v1");
    CHECK(queued.lang == "python3-http");
    REQUIRE(finishes(manager, queued.id));
    auto record = *manager.get(queued.id);
    CHECK(record.status == BuildStage::kReady);
    CHECK(record.error.empty());
    CHECK(record.image == "hello:v1");
    CHECK(stage_names(record) ==
          std::vector<std::string>{"queued", "building", "deploying", "ready"});
    for (const auto& timing : record.stages) CHECK(timing.seconds >= 0);
    CHECK(provider.image_of("hello") == "hello:v1");
    CHECK(provider.deploys == 1);
    // The context is gone once the build is over.
    CHECK_FALSE(fs::exists(store.context_dir(queued.id)));

    // The next build of the same function is v2 and updates it.
    auto second = manager.submit(request_for("hello", "y = 2\n"));
    CHECK(second.version == "v2");
    REQUIRE(finishes(manager, second.id));
    CHECK(provider.image_of("hello") == "hello:v2");
    CHECK(provider.updates == 1);
}

TEST_CASE("a failed build says why in one line and leaves the running version serving") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    BuildManager manager(options_for(dir.path), store, builder, provider);
    auto first = manager.submit(request_for("hello"));
    REQUIRE(finishes(manager, first.id));

    builder.script = [](const BuildJob&, BuildProgress&) {
        throw BuildFailed("install step `pip install` failed with exit status 1");
    };
    auto broken = manager.submit(request_for("hello"));
    REQUIRE(finishes(manager, broken.id));
    auto record = *manager.get(broken.id);
    CHECK(record.status == BuildStage::kFailed);
    CHECK(record.error == "install step `pip install` failed with exit status 1");
    CHECK(provider.image_of("hello") == "hello:v1");
    CHECK(provider.updates == 0);
}

TEST_CASE("builds of one function run one at a time, in order, others run alongside") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    std::atomic<bool> release{false};
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    builder.script = [&](const BuildJob&, BuildProgress&) {
        int now = ++running;
        most = std::max(most.load(), now);
        for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);
        --running;
    };
    auto options = options_for(dir.path);
    options.max_builds = 3;
    BuildManager manager(options, store, builder, provider);
    auto a1 = manager.submit(request_for("a"));
    auto a2 = manager.submit(request_for("a"));
    auto b1 = manager.submit(request_for("b"));
    CHECK(wait_until([&] { return running.load() == 2; }, 5s));
    CHECK(status_of_build(manager, a2.id) == BuildStage::kQueued);
    release = true;
    REQUIRE(finishes(manager, a2.id));
    REQUIRE(finishes(manager, b1.id));
    CHECK(most.load() == 2);
    CHECK(provider.image_of("a") == "a:v2");
    CHECK(manager.get(a1.id)->status == BuildStage::kReady);
}

TEST_CASE("cancelling: a running build stops, a queued one never runs, a finished one is 409") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    builder.script = wait_for_stop;
    auto options = options_for(dir.path);
    options.max_builds = 1;
    BuildManager manager(options, store, builder, provider);
    auto running = manager.submit(request_for("a"));
    auto queued = manager.submit(request_for("b"));
    REQUIRE(
        wait_until([&] { return status_of_build(manager, running.id) == BuildStage::kBuilding; }));

    auto cancelled_queued = manager.cancel(queued.id);
    CHECK(cancelled_queued.status == BuildStage::kCancelled);
    manager.cancel(running.id);
    REQUIRE(finishes(manager, running.id));
    CHECK(manager.get(running.id)->status == BuildStage::kCancelled);
    CHECK(provider.get("a") == std::nullopt);
    CHECK(builder.built == std::vector<std::string>{"a:v1"});
    CHECK_THROWS_AS(manager.cancel(running.id), AlreadyExists);
    CHECK_THROWS_AS(manager.cancel("0123456789abcdef"), NotFound);
}

TEST_CASE("a build past build_timeout is stopped and fails saying so") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    builder.script = wait_for_stop;
    auto options = options_for(dir.path);
    options.build_timeout = 300ms;
    BuildManager manager(options, store, builder, provider);
    auto build = manager.submit(request_for("slow"));
    REQUIRE(finishes(manager, build.id));
    auto record = *manager.get(build.id);
    CHECK(record.status == BuildStage::kFailed);
    CHECK(record.error.find("build_timeout (0.3s)") != std::string::npos);
}

TEST_CASE("after a restart a build that was running is failed and a queued one runs") {
    TempDir dir;
    std::string interrupted_id;
    std::string waiting_id;
    {
        BuildStore store(dir.path);
        ScriptedBuilder builder;
        MemoryProvider provider;
        builder.script = wait_for_stop;
        auto options = options_for(dir.path);
        options.max_builds = 1;
        BuildManager manager(options, store, builder, provider);
        interrupted_id = manager.submit(request_for("a")).id;
        waiting_id = manager.submit(request_for("b")).id;
        REQUIRE(wait_until(
            [&] { return status_of_build(manager, interrupted_id) == BuildStage::kBuilding; }));
        // Simulates a crash: the records as they were, read by a new manager. (stop() would
        // mark the running build failed itself.)
        fs::copy(dir.path, dir.path.string() + "-copy", fs::copy_options::recursive);
        manager.stop();
    }
    fs::remove_all(dir.path);
    fs::rename(dir.path.string() + "-copy", dir.path);

    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    BuildManager manager(options_for(dir.path), store, builder, provider);
    auto interrupted = manager.get(interrupted_id);
    REQUIRE(interrupted);
    CHECK(interrupted->status == BuildStage::kFailed);
    CHECK(interrupted->error == "the gateway stopped during the build (it was building)");
    REQUIRE(finishes(manager, waiting_id));
    CHECK(manager.get(waiting_id)->status == BuildStage::kReady);
    CHECK(provider.image_of("b") == "b:v1");
    // Versions keep counting from where they were.
    CHECK(manager.submit(request_for("a")).version == "v2");
}

TEST_CASE("rollback deploys the version before and forgets the current one") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    auto options = options_for(dir.path);
    options.kept_versions = 3;
    BuildManager manager(options, store, builder, provider);
    CHECK_THROWS_AS(manager.rollback("hello"), NotFound);
    for (int i = 0; i < 4; ++i) REQUIRE(finishes(manager, manager.submit(request_for("hello")).id));
    CHECK(provider.image_of("hello") == "hello:v4");
    // Three kept: v1 went.
    CHECK(builder.forgotten_images() == std::vector<std::string>{"hello:v1"});

    auto back = manager.rollback("hello");
    CHECK(back.version == "v3");
    CHECK(provider.image_of("hello") == "hello:v3");
    CHECK(manager.rollback("hello").version == "v2");
    CHECK(provider.image_of("hello") == "hello:v2");
    CHECK_THROWS_AS(manager.rollback("hello"), BadRequest);
    CHECK(builder.forgotten_images() ==
          std::vector<std::string>{"hello:v1", "hello:v4", "hello:v3"});
}

TEST_CASE("a version that never becomes ready fails the build and the previous one is back") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    auto options = options_for(dir.path);
    options.ready_timeout = 300ms;
    BuildManager manager(options, store, builder, provider);
    REQUIRE(finishes(manager, manager.submit(request_for("hello")).id));
    provider.available = 0;
    auto broken = manager.submit(request_for("hello"));
    REQUIRE(finishes(manager, broken.id));
    auto record = *manager.get(broken.id);
    CHECK(record.status == BuildStage::kFailed);
    CHECK(record.error.find("did not become ready within 0.3s") != std::string::npos);
    CHECK(record.error.find("back to v1") != std::string::npos);
    CHECK(provider.image_of("hello") == "hello:v1");
}

TEST_CASE("a build's log: followed while it runs, whole from its file afterwards") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    std::atomic<bool> release{false};
    builder.script = [&](const BuildJob&, BuildProgress& progress) {
        progress.line("compiling");
        for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);
        progress.line("done compiling");
    };
    BuildManager manager(options_for(dir.path), store, builder, provider);
    auto build = manager.submit(request_for("hello"));
    auto cursor = manager.logs(build.id);
    std::string seen;
    REQUIRE(wait_until([&] {
        auto lines = cursor->next(50ms);
        REQUIRE(lines);
        for (const auto& line : *lines) seen += line;
        return seen.find("compiling") != std::string::npos;
    }));
    release = true;
    for (int i = 0; i < 200; ++i) {
        auto lines = cursor->next(100ms);
        if (!lines) break;
        for (const auto& line : *lines) seen += line;
    }
    CHECK(seen.find("done compiling") != std::string::npos);
    CHECK(seen.find("\"stage\":\"deploying\"") != std::string::npos);
    CHECK(seen.find("hello runs v1") != std::string::npos);
    REQUIRE(is_finished(manager.get(build.id)->status));

    auto replay = manager.logs(build.id);
    auto lines = replay->next(0ms);
    REQUIRE(lines);
    std::string again;
    for (const auto& line : *lines) {
        CHECK(json::parse(line).contains("timestamp"));
        again += line;
    }
    CHECK(again == seen);
    CHECK_FALSE(replay->next(0ms));
    CHECK_THROWS_AS(manager.logs("ffff"), NotFound);
}

TEST_CASE("a request the builder refuses is not queued and leaves nothing behind") {
    TempDir dir;
    BuildStore store(dir.path);
    ScriptedBuilder builder;
    MemoryProvider provider;
    BuildManager manager(options_for(dir.path), store, builder, provider);
    json body{{"service", "hello"}, {"lang", "unknown"}, {"code", "x"}};
    CHECK_THROWS_AS(manager.submit(parse_json_build(body.dump(), "openfaas-fn", {})), BadRequest);
    body["lang"] = "no-such-template";
    CHECK_THROWS_AS(manager.submit(parse_json_build(body.dump(), "openfaas-fn", {})), BadRequest);
    CHECK(manager.list("", 10).empty());
    CHECK(fs::is_empty(dir.path / "contexts"));
}

}  // namespace faas::test
