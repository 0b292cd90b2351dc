// Builds from source on the real Swarm: the gateway builds with the Docker Engine API, pushes
// to the registry on 127.0.0.1:5000 (build_registry) and deploys from it. From JSON and from a
// tar.gz context; a rebuild rolls out with no failed call; a rollback returns to the version
// before; a handler that fails its build leaves the running version serving.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "e2e/e2e_fixture.h"

namespace faas::e2e {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

json build_record(const Stack& stack, const std::string& id) {
    auto res = gateway(stack).Get(("/system/builds/" + id).c_str());
    if (!res || res->status != 200) return nullptr;
    return json::parse(res->body);
}

std::string build_log(const Stack& stack, const std::string& id) {
    auto res = gateway(stack).Get(("/system/builds/" + id + "/logs").c_str());
    return res ? res->body : std::string();
}

/// Posts a build and waits for it to end; its final record.
json run_build(const Stack& stack, const std::string& body, const std::string& content_type,
               const httplib::Headers& headers = {}) {
    auto client = gateway(stack);
    client.set_read_timeout(60s);
    auto res = client.Post("/system/builds", headers, body, content_type.c_str());
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 202, res->body);
    const std::string id = json::parse(res->body)["id"];
    json record;
    eventually(
        [&] {
            record = build_record(stack, id);
            if (record.is_null()) return false;
            const std::string status = record["status"];
            return status == "ready" || status == "failed" || status == "cancelled";
        },
        600s);
    return record;
}

json json_build(const Stack& stack, const json& body) {
    return run_build(stack, body.dump(), "application/json");
}

double stage_seconds(const json& record) {
    double total = 0;
    for (const auto& stage : record["stages"]) total += stage.value("seconds", 0.0);
    return total;
}

const std::string kHandler =
    "def handle(event, context):\n"
    "    return \"Hello, \" + event.body.decode()\n";

}  // namespace

TEST_CASE("a python3-http function built by the gateway from JSON, rebuilt, rolled back") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-src";
    remove_function(*stack, name);

    auto first =
        json_build(*stack, {{"service", name}, {"lang", "python3-http"}, {"code", kHandler}});
    INFO(build_log(*stack, first["id"]));
    REQUIRE(first["status"] == "ready");
    report("build from JSON (python3-http), POST to ready: " +
           std::to_string(stage_seconds(first)) + " s");
    CHECK(first["image"].get<std::string>().find("/" + name + ":v") != std::string::npos);
    CHECK(invoke(*stack, name, "World") == std::pair<int, std::string>{200, "Hello, World"});
    // The service runs the image the build pushed to the registry.
    auto [code, image] =
        shell("docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' " +
              stack->stack_name + "_" + name +
              " 2>/dev/null || docker service inspect --format "
              "'{{.Spec.TaskTemplate.ContainerSpec.Image}}' " +
              name);
    CHECK(image.find(first["image"].get<std::string>()) != std::string::npos);

    // A rebuild while a client calls in a loop: no failed call.
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::thread caller([&] {
        for (int i = 0; i < 20000 && !stop; ++i) {
            auto [status, body] = invoke(*stack, name, "loop");
            (status == 200 ? ok : failed)++;
            std::this_thread::sleep_for(20ms);
        }
    });
    std::string code2 = kHandler;
    code2.replace(code2.find("Hello, "), 7, "Howdy, ");
    auto second =
        json_build(*stack, {{"service", name}, {"lang", "python3-http"}, {"code", code2}});
    INFO(build_log(*stack, second["id"]));
    CHECK(second["status"] == "ready");
    const bool switched =
        eventually([&] { return invoke(*stack, name, "World").second == "Howdy, World"; }, 60s);
    stop = true;
    caller.join();
    CHECK(switched);
    report("rebuild on the Swarm: " + std::to_string(ok.load()) + " calls ok, " +
           std::to_string(failed.load()) + " failed during the rolling update");
    CHECK(failed.load() == 0);

    // A handler whose test fails does not replace the running version.
    auto broken = json_build(*stack, {{"service", name},
                                      {"lang", "python3-http"},
                                      {"code", kHandler},
                                      {"files",
                                       {{"handler_test.py",
                                         "import unittest\n"
                                         "class T(unittest.TestCase):\n"
                                         "    def test_fails(self):\n"
                                         "        self.assertEqual(1, 2)\n"}}}});
    CHECK(broken["status"] == "failed");
    MESSAGE("failed build: " << broken.value("error", ""));
    CHECK(invoke(*stack, name, "World").second == "Howdy, World");

    auto rollback =
        gateway(*stack).Post(("/system/functions/" + name + "/rollback").c_str(), "", "text/plain");
    REQUIRE(rollback);
    CHECK(rollback->status == 202);
    CHECK(eventually([&] { return invoke(*stack, name, "World").second == "Hello, World"; }, 60s));
    remove_function(*stack, name);
}

TEST_CASE("a bash function built by the gateway from a tar.gz context") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-tar";
    remove_function(*stack, name);
    auto [code, archive] =
        shell("d=$(mktemp -d) && cp -r " FAAS_SOURCE_DIR
              "/templates/bash \"$d/ctx\" && "
              "printf 'echo \"tarred: $(cat)\"\\n' > \"$d/ctx/function/handler.sh\" && "
              "rm -f \"$d/ctx/function/handler_test.sh\" && tar -C \"$d/ctx\" -cz . | base64 -w0; "
              "rm -rf \"$d\"");
    REQUIRE(code == 0);
    auto [decoded_code, bytes] = shell("printf %s '" + archive + "' | base64 -d");
    REQUIRE(decoded_code == 0);
    httplib::Headers headers{{"X-Build-Deployment", json{{"service", name}}.dump()}};
    auto record = run_build(*stack, bytes, "application/gzip", headers);
    INFO(build_log(*stack, record["id"]));
    REQUIRE(record["status"] == "ready");
    CHECK(record["lang"] == "bash");
    CHECK(invoke(*stack, name, "x") == std::pair<int, std::string>{200, "tarred: x\n"});
    remove_function(*stack, name);
}

}  // namespace faas::e2e
