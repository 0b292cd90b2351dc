// Builds from source on the local provider, through the real gateway: the project's templates
// built from JSON, called, rebuilt while a client calls, rolled back; failures that leave the
// old version serving; a gateway killed mid-build; and the bad input the API refuses.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "archive.h"
#include "integration/gateway_fixture.h"
#include "support/files.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Answer {
    int status = -1;
    std::string body;
    json doc;
};

Answer post_build(GatewayFixture& gateway, const json& body) {
    auto http = gateway.client(30s);
    auto res = http.Post("/system/builds", body.dump(), "application/json");
    Answer answer;
    if (!res) return answer;
    answer.status = res->status;
    answer.body = res->body;
    if (res->status == 202) answer.doc = json::parse(res->body);
    return answer;
}

Answer post_archive(GatewayFixture& gateway, const std::string& archive, const json& deployment,
                    const std::string& content_type = "application/gzip") {
    auto http = gateway.client(30s);
    httplib::Headers headers;
    if (!deployment.is_null()) headers.emplace("X-Build-Deployment", deployment.dump());
    auto res = http.Post("/system/builds", headers, archive, content_type);
    Answer answer;
    if (!res) return answer;
    answer.status = res->status;
    answer.body = res->body;
    if (res->status == 202) answer.doc = json::parse(res->body);
    return answer;
}

json build_record(GatewayFixture& gateway, const std::string& id) {
    auto res = gateway.client().Get(("/system/builds/" + id).c_str());
    if (!res || res->status != 200) return nullptr;
    return json::parse(res->body);
}

std::string build_log(GatewayFixture& gateway, const std::string& id) {
    auto res = gateway.client().Get(("/system/builds/" + id + "/logs").c_str());
    return res ? res->body : std::string();
}

/// Waits until the build has ended; its record.
json finished_build(GatewayFixture& gateway, const std::string& id,
                    std::chrono::milliseconds timeout = 180s) {
    json record;
    wait_until(
        [&] {
            record = build_record(gateway, id);
            if (record.is_null()) return false;
            const auto status = record["status"].get<std::string>();
            return status == "ready" || status == "failed" || status == "cancelled";
        },
        timeout);
    return record;
}

json build_ready(GatewayFixture& gateway, const json& body) {
    auto answer = post_build(gateway, body);
    REQUIRE_MESSAGE(answer.status == 202, answer.body);
    CHECK(answer.doc["status"] == "queued");
    auto record = finished_build(gateway, answer.doc["id"]);
    INFO(build_log(gateway, answer.doc["id"]));
    REQUIRE(record["status"] == "ready");
    return record;
}

std::string call(GatewayFixture& gateway, const std::string& name, const std::string& body,
                 int* status = nullptr) {
    auto res = gateway.client(30s).Post(("/function/" + name).c_str(), body, "text/plain");
    if (status) *status = res ? res->status : -1;
    return res ? res->body : std::string();
}

const std::string kPythonHttp =
    "def handle(event, context):\n"
    "    return \"Hello, \" + event.body.decode()\n";

/// Calls `name` in a loop from another thread until stopped, counting answers.
class CallLoop {
  public:
    CallLoop(GatewayFixture& gateway, std::string name)
        : thread_([this, &gateway, name] {
              for (int i = 0; i < 20000 && !stop_; ++i) {
                  int status = 0;
                  auto body = call(gateway, name, "loop", &status);
                  std::lock_guard lock(mutex_);
                  (status == 200 ? ok_ : failed_)++;
                  if (status != 200 && first_failure_.empty())
                      first_failure_ = std::to_string(status) + " " + body;
                  last_body_ = body;
                  std::this_thread::sleep_for(10ms);
              }
          }) {}
    ~CallLoop() { finish(); }
    void finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int ok() {
        std::lock_guard lock(mutex_);
        return ok_;
    }
    int failed() {
        std::lock_guard lock(mutex_);
        return failed_;
    }
    std::string first_failure() {
        std::lock_guard lock(mutex_);
        return first_failure_;
    }

  private:
    std::mutex mutex_;
    int ok_ = 0;
    int failed_ = 0;
    std::string first_failure_;
    std::string last_body_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// The project's bash template with `sleep 60` first in its local install: a build that
/// runs long enough to be cancelled or interrupted.
std::string slow_templates(const TempDir& dir) {
    const fs::path root = fs::path(dir.path()) / "templates";
    fs::create_directories(root);
    fs::copy(fs::path(FAAS_SOURCE_DIR) / "templates" / "bash", root / "bash",
             fs::copy_options::recursive);
    auto yml = read_text(root / "bash" / "template.yml");
    auto install = yml.find("  install:\n");
    if (install != std::string::npos) {
        yml.insert(install + std::string("  install:\n").size(), "    - sleep 60\n");
    } else {
        auto local = yml.find("local:\n");
        REQUIRE(local != std::string::npos);
        yml.insert(local + std::string("local:\n").size(), "  install:\n    - sleep 60\n");
    }
    write_text(root / "bash" / "template.yml", yml);
    return root.string();
}

}  // namespace

TEST_CASE("python3-http from JSON: built, called, rebuilt with no failed call, rolled back") {
    GatewayFixture gateway;
    auto first = build_ready(
        gateway, {{"service", "hello"}, {"lang", "python3-http"}, {"code", kPythonHttp}});
    CHECK(first["version"] == "v1");
    CHECK(first["image"] == "hello:v1");
    CHECK(call(gateway, "hello", "World") == "Hello, World");
    CHECK(gateway.status("hello")["image"] == "hello:v1");

    {
        CallLoop loop(gateway, "hello");
        REQUIRE(wait_until([&] { return loop.ok() > 5; }, 10s));
        std::string code = kPythonHttp;
        code.replace(code.find("Hello, "), 7, "Howdy, ");
        auto second =
            build_ready(gateway, {{"service", "hello"}, {"lang", "python3-http"}, {"code", code}});
        CHECK(second["version"] == "v2");
        CHECK(call(gateway, "hello", "World") == "Howdy, World");
        REQUIRE(wait_until([&] { return loop.ok() > 20; }, 10s));
        loop.finish();
        MESSAGE("calls during the rolling update: " << loop.ok() << " ok, " << loop.failed()
                                                    << " failed");
        CHECK_MESSAGE(loop.failed() == 0, loop.first_failure());
    }

    auto rollback = gateway.client().Post("/system/functions/hello/rollback", "", "text/plain");
    REQUIRE(rollback);
    CHECK(rollback->status == 202);
    CHECK(json::parse(rollback->body)["version"] == "v1");
    REQUIRE(wait_until([&] { return call(gateway, "hello", "World") == "Hello, World"; }, 30s));
    // Nothing before v1.
    rollback = gateway.client().Post("/system/functions/hello/rollback", "", "text/plain");
    REQUIRE(rollback);
    CHECK(rollback->status == 400);

    auto list = gateway.client().Get("/system/builds?function=hello");
    REQUIRE(list);
    auto builds = json::parse(list->body);
    REQUIRE(builds.size() == 2);
    CHECK(builds[0]["version"] == "v2");  // newest first
}

TEST_CASE("python3, node and bash from JSON answer as their templates say") {
    GatewayFixture gateway;
    build_ready(gateway, {{"service", "py"},
                          {"lang", "python3"},
                          {"code", "def handle(req):\n    return 'py:' + req\n"}});
    build_ready(gateway, {{"service", "js"},
                          {"lang", "node"},
                          {"code", "module.exports = async (event) => 'js:' + event.body;\n"}});
    build_ready(gateway, {{"service", "sh"}, {"lang", "bash"}, {"code", "echo \"sh:$(cat)\"\n"}});
    CHECK(call(gateway, "py", "a") == "py:a\n");
    CHECK(call(gateway, "js", "b") == "js:b");
    CHECK(call(gateway, "sh", "c") == "sh:c\n");
}

TEST_CASE("a build that fails to install says why and the running version keeps serving") {
    GatewayFixture gateway;
    build_ready(gateway, {{"service", "hello"}, {"lang", "python3-http"}, {"code", kPythonHttp}});
    auto answer =
        post_build(gateway, {{"service", "hello"},
                             {"lang", "python3-http"},
                             {"code", kPythonHttp},
                             {"files", {{"requirements.txt", "no-such-package-faas-test\n"}}}});
    REQUIRE(answer.status == 202);
    auto record = finished_build(gateway, answer.doc["id"]);
    CHECK(record["status"] == "failed");
    MESSAGE("error: " << record["error"]);
    CHECK(record["error"].get<std::string>().find("exit status") != std::string::npos);
    CHECK(call(gateway, "hello", "World") == "Hello, World");
    CHECK(gateway.status("hello")["image"] == "hello:v1");
    // The log has what the failing step printed.
    CHECK(build_log(gateway, answer.doc["id"]).find("no-such-package-faas-test") !=
          std::string::npos);
}

TEST_CASE("a build from a tar.gz context, as faas build --shrinkwrap writes it") {
    GatewayFixture gateway;
    TempDir dir;
    const fs::path context = fs::path(dir.path()) / "hello";
    fs::copy(fs::path(FAAS_SOURCE_DIR) / "templates" / "bash", context,
             fs::copy_options::recursive);
    write_text(context / "function" / "handler.sh", "echo \"from tar: $(cat)\"\n");
    fs::remove(context / "function" / "handler_test.sh");
    auto answer =
        post_archive(gateway, faas::write_archive(context, true), {{"service", "tarred"}});
    REQUIRE_MESSAGE(answer.status == 202, answer.body);
    CHECK(answer.doc["lang"] == "bash");
    CHECK(answer.doc["source"] == "archive");
    auto record = finished_build(gateway, answer.doc["id"]);
    INFO(build_log(gateway, answer.doc["id"]));
    REQUIRE(record["status"] == "ready");
    CHECK(call(gateway, "tarred", "x") == "from tar: x\n");
}

TEST_CASE("bad build requests: each a clear status, nothing queued or deployed") {
    GatewayFixture gateway(
        GatewayEnv{{"max_build_context_bytes", "1MiB"}, {"max_build_unpacked_bytes", "4MiB"}});
    auto refused = [&](const Answer& answer, int status, const std::string& words) {
        CHECK_MESSAGE(answer.status == status, answer.body);
        CHECK_MESSAGE(answer.body.find(words) != std::string::npos, answer.body);
    };
    refused(post_build(gateway, {{"service", "a"}, {"lang", "cobol"}, {"code", "x"}}), 400,
            "unknown lang 'cobol'");
    refused(post_build(gateway, {{"service", "Not_A_Label"}, {"lang", "bash"}, {"code", "x"}}), 400,
            "'service' must be a DNS label");
    refused(post_build(gateway,
                       {{"service", "a"}, {"lang", "bash"}, {"code", std::string(2 << 20, 'x')}}),
            413, "max_build_context_bytes");
    refused(post_build(gateway, {{"service", "a"}, {"lang", "dockerfile"}, {"code", "x"}}), 400,
            "cannot run without Docker");
    refused(post_archive(gateway, "not a tar", {{"service", "a"}, {"lang", "bash"}}), 400,
            "build context");
    refused(post_archive(gateway, "x", nullptr), 400, "X-Build-Deployment");
    refused(post_archive(gateway, "x", {{"service", "a"}}, "text/plain"), 400, "Content-Type");

    // A gzip bomb: 64 MiB of zeros in a few KB, against a 4 MiB unpacked limit.
    TempDir dir;
    const fs::path bomb = fs::path(dir.path()) / "bomb";
    fs::create_directories(bomb);
    {
        std::ofstream out(bomb / "zeros", std::ios::binary);
        std::string block(1 << 20, '\0');
        for (int i = 0; i < 64; ++i)
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    const auto archive = faas::write_archive(bomb, true);
    CHECK(archive.size() < (1u << 20));
    refused(post_archive(gateway, archive, {{"service", "a"}, {"lang", "bash"}}), 413,
            "build context");

    auto list = gateway.client().Get("/system/builds");
    REQUIRE(list);
    CHECK(json::parse(list->body).empty());
    CHECK(gateway.status("a").is_null());
}

TEST_CASE("cancelling a running build, and a gateway killed mid-build") {
    TempDir dir;
    const auto templates = slow_templates(dir);
    const std::string state = dir.path() + "/state";
    std::string id;
    {
        GatewayFixture gateway(GatewayEnv{{"templates_dir", templates}}, state);
        auto cancelled =
            post_build(gateway, {{"service", "c"}, {"lang", "bash"}, {"code", "cat\n"}});
        REQUIRE(cancelled.status == 202);
        REQUIRE(wait_until(
            [&] { return build_record(gateway, cancelled.doc["id"])["status"] == "building"; },
            10s));
        auto res = gateway.client().Delete(
            ("/system/builds/" + cancelled.doc["id"].get<std::string>()).c_str());
        REQUIRE(res);
        CHECK(res->status == 202);
        auto record = finished_build(gateway, cancelled.doc["id"], 10s);
        CHECK(record["status"] == "cancelled");
        res = gateway.client().Delete(
            ("/system/builds/" + cancelled.doc["id"].get<std::string>()).c_str());
        REQUIRE(res);
        CHECK(res->status == 409);

        auto killed = post_build(gateway, {{"service", "k"}, {"lang", "bash"}, {"code", "cat\n"}});
        REQUIRE(killed.status == 202);
        id = killed.doc["id"];
        REQUIRE(wait_until([&] { return build_record(gateway, id)["status"] == "building"; }, 10s));
        gateway.process().signal(SIGKILL);
        gateway.process().wait_exit(10s);
    }
    GatewayFixture restarted(GatewayEnv{}, state);
    auto record = build_record(restarted, id);
    CHECK(record["status"] == "failed");
    CHECK(record["error"] == "the gateway stopped during the build (it was building)");
    CHECK(restarted.status("k").is_null());
    // And builds go on.
    build_ready(restarted, {{"service", "k"}, {"lang", "bash"}, {"code", "echo ok\n"}});
    CHECK(call(restarted, "k", "") == "ok\n");
}
