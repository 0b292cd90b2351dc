// The Docker builder against a fake Engine API: the /build request it sends, its streamed output
// into the build's log, the push, the refusals, the node check and stopping mid-stream.
#include "build/docker_builder.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../provider/swarm/fake_engine.h"
#include "archive.h"
#include "build_fakes.h"
#include "errors.h"
#include "support/files.h"

namespace faas::test {
namespace {

namespace fs = std::filesystem;
using namespace faas::gateway;
using namespace std::chrono_literals;

struct ContextDir {
    ContextDir() {
        char templ[] = "/tmp/docker-builder-test-XXXXXX";
        REQUIRE(::mkdtemp(templ) != nullptr);
        path = templ;
        write_text(path / "Dockerfile", "ARG WATCHDOG_IMAGE=faas/watchdog:latest\nFROM scratch\n");
        write_text(path / "function" / "handler.py", "def handle(req):\n    return req\n");
    }
    ~ContextDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    fs::path path;
};

BuildJob job_in(const ContextDir& context) {
    BuildJob job;
    job.id = "b1";
    job.function = "hello";
    job.version = "v1";
    job.context_dir = context.path;
    job.lang = "python3";
    job.build_args = {{"ADDITIONAL_PACKAGE", "curl git"}};
    return job;
}

DockerBuilderOptions options_for(const FakeEngine& engine, std::string registry = "") {
    DockerBuilderOptions options;
    options.docker.socket_path = engine.path();
    options.docker.timeout = 2s;
    options.docker.connect_timeout = 1s;
    options.registry = std::move(registry);
    options.max_duration = 20s;
    return options;
}

std::string url_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string query_value(const std::string& target, const std::string& name) {
    auto start = target.find('?' + name + '=');
    if (start == std::string::npos) start = target.find('&' + name + '=');
    if (start == std::string::npos) return {};
    start += name.size() + 2;
    return url_decode(target.substr(start, target.find('&', start) - start));
}

// Streams `messages` in pieces of `step` bytes, so that JSON objects and lines split anywhere.
bool stream_in_pieces(FakeStream& stream, const std::string& messages, std::size_t step) {
    if (!stream.begin(200)) return false;
    for (std::size_t at = 0; at < messages.size(); at += step)
        if (!stream.write(std::string_view(messages).substr(at, step))) return false;
    return true;
}

const std::string kBuildOutput =
    "{\"stream\":\"Step 1/2 : FROM faas/watchdog:latest\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e 1234abcd\\n\"}\r\n"
    "{\"status\":\"Pulling from library/alpine\",\"id\":\"latest\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":10},\"id\":\"abc\"}"
    "\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":5,\"total\":10},\"id\":\"abc\"}"
    "\r\n"
    "{\"status\":\"Download complete\",\"id\":\"abc\"}\r\n"
    "{\"stream\":\"Step 2/2 : RUN pip install\\n ---\\u003e Running in 55aa\\nCollecting "
    "flask\\r\\nProgress 10%\\rProgress 100%\\n\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"aux\":{\"ID\":\"sha256:feed\"}}\r\n"
    "{\"stream\":\"Successfully built feed\\n\"}\r\n"
    "{\"stream\":\"Successfully tagged hello:v1\\n\"}\r\n";

const std::vector<std::string> kBuildLines = {"Step 1/2 : FROM faas/watchdog:latest",
                                              " ---> 1234abcd",
                                              "latest: Pulling from library/alpine",
                                              "abc: Downloading",
                                              "abc: Download complete",
                                              "Step 2/2 : RUN pip install",
                                              " ---> Running in 55aa",
                                              "Collecting flask",
                                              "Progress 100%",
                                              "Successfully built feed",
                                              "Successfully tagged hello:v1"};

const std::string kPushOutput =
    "{\"status\":\"The push refers to repository [127.0.0.1:5000/hello]\"}\r\n"
    "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"l1\"}\r\n"
    "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"l2\"}\r\n"
    "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":512,\"total\":2048},"
    "\"progress\":\"[=\\u003e   ]\",\"id\":\"l1\"}\r\n"
    "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":2048,\"total\":2048},"
    "\"progress\":\"[====\\u003e]\",\"id\":\"l1\"}\r\n"
    "{\"status\":\"Layer already exists\",\"progressDetail\":{},\"id\":\"l2\"}\r\n"
    "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"l1\"}\r\n"
    "{\"status\":\"v1: digest: sha256:abc size: 739\"}\r\n"
    "{\"progressDetail\":{},\"aux\":{\"Tag\":\"v1\",\"Digest\":\"sha256:abc\",\"Size\":739}}\r\n";

const std::vector<std::string> kPushLines = {"The push refers to repository [127.0.0.1:5000/hello]",
                                             "l1: Preparing",
                                             "l2: Preparing",
                                             "l1: Pushing",
                                             "l2: Layer already exists",
                                             "l1: Pushed",
                                             "v1: digest: sha256:abc size: 739"};

std::pair<int, std::string> not_found(const FakeRequest&) {
    return {404, R"({"message":"no such thing"})"};
}

// Waits up to 5 s for `condition`.
template <typename Condition>
bool eventually(Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

}  // namespace

TEST_CASE("docker builder: engine output split anywhere becomes the same log lines") {
    for (std::size_t step = 1; step <= kBuildOutput.size(); ++step) {
        EngineOutputReader reader;
        std::vector<std::string> lines;
        for (std::size_t at = 0; at < kBuildOutput.size(); at += step)
            for (auto& line : reader.feed(std::string_view(kBuildOutput).substr(at, step)))
                lines.push_back(line);
        for (auto& line : reader.finish()) lines.push_back(line);
        REQUIRE_MESSAGE(lines == kBuildLines, "chunk size ", step);
        CHECK_FALSE(reader.error());
    }
}

TEST_CASE("docker builder: an error message ends the output, over-long lines are cut") {
    EngineOutputReader reader;
    auto lines = reader.feed(
        "{\"stream\":\"Step 3/9 : RUN pip install -r requirements.txt\\nERROR: no such "
        "package\"}\n{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c pip "
        "install'\\nreturned a non-zero code: 1\"}}\n{\"stream\":\"after\\n\"}\n");
    CHECK(lines == std::vector<std::string>{"Step 3/9 : RUN pip install -r requirements.txt",
                                            "ERROR: no such package"});
    REQUIRE(reader.error());
    CHECK(*reader.error() == "The command '/bin/sh -c pip install' returned a non-zero code: 1");

    EngineOutputReader bounded;
    std::string huge(EngineOutputReader::kMaxLine + 10, 'x');
    auto cut = bounded.feed("{\"stream\":\"" + huge);
    CHECK(cut.size() == 1);
    cut = bounded.feed("\\n\"}\n{\"status\":\"next\"}\n");
    CHECK(cut == std::vector<std::string>{"next"});

    // A line of text that many messages make up is cut too, and the next line is whole.
    EngineOutputReader long_text;
    std::string piece = "{\"stream\":\"" + std::string(600u << 10, 'y') + "\"}\n";
    auto text = long_text.feed(piece + piece + piece + "{\"stream\":\"\\nshort\\n\"}\n");
    REQUIRE(text.size() == 2);
    CHECK(text[0].size() == EngineOutputReader::kMaxLine);
    CHECK(text[1] == "short");
}

TEST_CASE("docker builder: POST /build with the context's tar and the build arguments") {
    ContextDir context;
    FakeEngine engine(not_found, [](const FakeRequest& request, FakeStream& stream) {
        if (request.target.rfind("/v1.41/build?", 0) != 0) return false;
        stream_in_pieces(stream, kBuildOutput, 7);
        return true;
    });
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;

    CHECK(builder.build(job_in(context), progress) == "hello:v1");
    CHECK(progress.lines() == kBuildLines);
    CHECK(progress.stages().empty());  // no registry: no push

    auto requests = engine.requests();
    REQUIRE(requests.size() == 1);
    const auto& build = requests[0];
    CHECK(build.method == "POST");
    CHECK(build.target.rfind("/v1.41/build?t=hello%3Av1&rm=1&forcerm=1&buildargs=", 0) == 0);
    CHECK(query_value(build.target, "t") == "hello:v1");
    auto args = nlohmann::json::parse(query_value(build.target, "buildargs"));
    CHECK(args == nlohmann::json{{"ADDITIONAL_PACKAGE", "curl git"},
                                 {"WATCHDOG_IMAGE", "faas/watchdog:latest"}});
    CHECK(build.headers.find("Content-Type: application/x-tar\r\n") != std::string::npos);

    // A plain tar: 512-byte blocks, a ustar header, and the context inside.
    REQUIRE(build.body.size() >= 1024);
    CHECK(build.body.size() % 512 == 0);
    CHECK(build.body.compare(257, 5, "ustar") == 0);
    char unpacked[] = "/tmp/docker-builder-unpacked-XXXXXX";
    REQUIRE(::mkdtemp(unpacked) != nullptr);
    extract_archive(build.body, unpacked, ArchiveLimits{});
    CHECK(read_text(fs::path(unpacked) / "Dockerfile") == read_text(context.path / "Dockerfile"));
    CHECK(read_text(fs::path(unpacked) / "function" / "handler.py") ==
          read_text(context.path / "function" / "handler.py"));
    fs::remove_all(unpacked);
}

TEST_CASE("docker builder: a WATCHDOG_IMAGE the build sets wins over the configured one") {
    ContextDir context;
    FakeEngine engine(not_found, [](const FakeRequest&, FakeStream& stream) {
        return stream.begin(200) && stream.write("{\"stream\":\"done\\n\"}\r\n");
    });
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;
    auto job = job_in(context);
    job.build_args["WATCHDOG_IMAGE"] = "registry.example/watchdog:1.2";
    builder.build(job, progress);
    auto requests = engine.requests();
    REQUIRE(requests.size() == 1);
    auto args = nlohmann::json::parse(query_value(requests[0].target, "buildargs"));
    CHECK(args["WATCHDOG_IMAGE"] == "registry.example/watchdog:1.2");
}

TEST_CASE("docker builder: no WATCHDOG_IMAGE for a Dockerfile that does not take it") {
    ContextDir context;
    write_text(context.path / "Dockerfile", "FROM faas/catservice:latest\nENV fprocess=cat\n");
    FakeEngine engine(not_found, [](const FakeRequest&, FakeStream& stream) {
        return stream.begin(200) && stream.write("{\"stream\":\"done\\n\"}\r\n");
    });
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;
    auto job = job_in(context);
    builder.build(job, progress);
    auto requests = engine.requests();
    REQUIRE(requests.size() == 1);
    auto args = nlohmann::json::parse(query_value(requests[0].target, "buildargs"));
    CHECK(args == nlohmann::json{{"ADDITIONAL_PACKAGE", "curl git"}});
}

TEST_CASE("docker builder: an error in the build's output fails the build with its text") {
    ContextDir context;
    FakeEngine engine(not_found, [](const FakeRequest&, FakeStream& stream) {
        return stream_in_pieces(
            stream,
            "{\"stream\":\"Step 2/9 : RUN pip install -r requirements.txt\\n\"}\r\n"
            "{\"stream\":\"ERROR: Could not find a version that satisfies flsk\\n\"}\r\n"
            "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c pip install -r "
            "requirements.txt' returned a non-zero code: 1\"},\"error\":\"The command '/bin/sh "
            "-c pip install -r requirements.txt' returned a non-zero code: 1\"}\r\n",
            50);
    });
    DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
    RecordingProgress progress;
    CHECK_THROWS_WITH_AS(
        builder.build(job_in(context), progress),
        "The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero code: 1",
        BuildFailed);
    CHECK(progress.lines() ==
          std::vector<std::string>{"Step 2/9 : RUN pip install -r requirements.txt",
                                   "ERROR: Could not find a version that satisfies flsk"});
    CHECK(progress.stages().empty());  // never pushed
    CHECK(engine.requests().size() == 1);
}

TEST_CASE("docker builder: an engine that refuses the build fails it with the engine's message") {
    ContextDir context;
    FakeEngine engine([](const FakeRequest&) -> std::pair<int, std::string> {
        return {500, R"({"message":"dockerfile parse error line 3: unknown instruction: RUNN"})"};
    });
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;
    CHECK_THROWS_WITH_AS(
        builder.build(job_in(context), progress),
        "docker build failed: dockerfile parse error line 3: unknown instruction: RUNN",
        BuildFailed);
}

TEST_CASE("docker builder: an engine that cannot be reached fails the build") {
    ContextDir context;
    FakeEngine engine(not_found);
    engine.stop();
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;
    try {
        builder.build(job_in(context), progress);
        FAIL("the build succeeded");
    } catch (const BuildFailed& e) {
        CHECK(std::string(e.what()).find("docker build failed: Docker engine at") == 0);
    }
}

TEST_CASE("docker builder: with a registry the image is tagged for it and pushed") {
    ContextDir context;
    FakeEngine engine(not_found, [](const FakeRequest& request, FakeStream& stream) {
        if (request.target.find("/push?") != std::string::npos)
            return stream_in_pieces(stream, kPushOutput, 13);
        return stream_in_pieces(stream, kBuildOutput, 4096);
    });
    DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
    RecordingProgress progress;

    CHECK(builder.build(job_in(context), progress) == "127.0.0.1:5000/hello:v1");
    CHECK(progress.stages() == std::vector<BuildStage>{BuildStage::kPushing});
    auto expected = kBuildLines;
    expected.insert(expected.end(), kPushLines.begin(), kPushLines.end());
    CHECK(progress.lines() == expected);

    auto requests = engine.requests();
    REQUIRE(requests.size() == 2);
    CHECK(query_value(requests[0].target, "t") == "127.0.0.1:5000/hello:v1");
    const auto& push = requests[1];
    CHECK(push.method == "POST");
    CHECK(push.target == "/v1.41/images/127.0.0.1%3A5000%2Fhello/push?tag=v1");
    CHECK(push.headers.find("X-Registry-Auth: e30=\r\n") != std::string::npos);
    CHECK(push.body.empty());
}

TEST_CASE("docker builder: a push that fails says where to") {
    ContextDir context;
    FakeEngine engine(not_found, [](const FakeRequest& request, FakeStream& stream) {
        if (request.target.find("/push?") != std::string::npos)
            return stream_in_pieces(
                stream,
                "{\"status\":\"The push refers to repository [127.0.0.1:5000/hello]\"}\r\n"
                "{\"errorDetail\":{\"message\":\"dial tcp 127.0.0.1:5000: connect: connection "
                "refused\"},\"error\":\"dial tcp 127.0.0.1:5000: connect: connection "
                "refused\"}\r\n",
                9);
        return stream_in_pieces(stream, kBuildOutput, 4096);
    });
    DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
    RecordingProgress progress;
    CHECK_THROWS_WITH_AS(
        builder.build(job_in(context), progress),
        "push to 127.0.0.1:5000 failed: dial tcp 127.0.0.1:5000: connect: connection refused",
        BuildFailed);
    CHECK(progress.stages() == std::vector<BuildStage>{BuildStage::kPushing});
    CHECK(progress.lines().back() == "The push refers to repository [127.0.0.1:5000/hello]");
}

TEST_CASE("docker builder: a refused push fails with the engine's message") {
    ContextDir context;
    FakeEngine engine(
        [](const FakeRequest&) -> std::pair<int, std::string> {
            return {404, R"({"message":"An image does not exist locally with the tag: x"})"};
        },
        [](const FakeRequest& request, FakeStream& stream) {
            if (request.target.find("/push?") != std::string::npos) return false;
            return stream_in_pieces(stream, kBuildOutput, 4096);
        });
    DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
    RecordingProgress progress;
    CHECK_THROWS_WITH_AS(
        builder.build(job_in(context), progress),
        "push to 127.0.0.1:5000 failed: An image does not exist locally with the tag: x",
        BuildFailed);
}

TEST_CASE("docker builder: a Swarm of several nodes needs a registry") {
    std::atomic<int> nodes{1};
    FakeEngine engine([&](const FakeRequest& request) -> std::pair<int, std::string> {
        if (request.target != "/v1.41/nodes") return {404, R"({"message":"no"})"};
        auto list = nlohmann::json::array();
        for (int i = 0; i < nodes; ++i) list.push_back({{"ID", "n" + std::to_string(i)}});
        return {200, list.dump()};
    });
    auto count_node_requests = [&] {
        int count = 0;
        for (const auto& request : engine.requests()) count += request.target == "/v1.41/nodes";
        return count;
    };

    SUBCASE("one node: no registry needed") {
        DockerBuilder builder(options_for(engine));
        CHECK_NOTHROW(builder.check("python3"));
    }
    SUBCASE("three nodes without a registry: refused, saying why") {
        nodes = 3;
        DockerBuilder builder(options_for(engine));
        CHECK_THROWS_WITH_AS(builder.check("python3"),
                             "this Swarm has 3 nodes and no build_registry: the other nodes could "
                             "not pull the image; set build_registry (e.g. 127.0.0.1:5000 with "
                             "the registry stack)",
                             BadRequest);
    }
    SUBCASE("three nodes with a registry: fine, without asking") {
        nodes = 3;
        DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
        CHECK_NOTHROW(builder.check("python3"));
        CHECK(count_node_requests() == 0);
    }
    SUBCASE("the node count is cached") {
        DockerBuilder builder(options_for(engine));
        builder.check("python3");
        nodes = 3;
        CHECK_NOTHROW(builder.check("node"));
        CHECK(count_node_requests() == 1);

        auto options = options_for(engine);
        options.node_check_cache = 0ms;
        DockerBuilder uncached(options);
        CHECK_THROWS_AS(uncached.check("python3"), BadRequest);
    }
    SUBCASE("an engine that cannot say is unavailable, not a bad request") {
        engine.stop();
        DockerBuilder builder(options_for(engine));
        CHECK_THROWS_AS(builder.check("python3"), ProviderUnavailable);
    }
}

TEST_CASE("docker builder: a stop mid-stream ends the build promptly and hangs up") {
    ContextDir context;
    std::atomic<bool> hung_up{false};
    FakeEngine engine(not_found, [&](const FakeRequest&, FakeStream& stream) {
        stream.begin(200);
        stream.write("{\"stream\":\"Step 1/2 : RUN sleep 600\\n\"}\r\n");
        // The engine stays silent, as during a long RUN, until the client goes.
        hung_up = stream.client_closed(10s);
        return true;
    });
    DockerBuilder builder(options_for(engine));
    RecordingProgress progress;
    std::chrono::steady_clock::time_point stopped_at;
    std::thread stopper([&] {
        if (eventually([&] { return !progress.lines().empty(); })) {
            stopped_at = std::chrono::steady_clock::now();
            progress.stop();
        }
    });
    CHECK_THROWS_AS(builder.build(job_in(context), progress), BuildStopped);
    auto returned_at = std::chrono::steady_clock::now();
    stopper.join();
    REQUIRE(progress.stop_requested());
    CHECK(returned_at - stopped_at < 800ms);
    CHECK(eventually([&] { return hung_up.load(); }));
}

TEST_CASE("docker builder: forget removes the image and never throws") {
    FakeEngine engine([](const FakeRequest&) -> std::pair<int, std::string> {
        return {409, R"({"message":"image is being used by running container"})"};
    });
    DockerBuilder builder(options_for(engine, "127.0.0.1:5000"));
    builder.forget("127.0.0.1:5000/hello:v1");
    auto requests = engine.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "DELETE");
    CHECK(requests[0].target == "/v1.41/images/127.0.0.1%3A5000%2Fhello%3Av1?noprune=0");

    engine.stop();
    builder.forget("127.0.0.1:5000/hello:v1");  // engine down: still no throw
}

}  // namespace faas::test
