// Every template, through the `faas` CLI, on the real Swarm: `new` → `up` (build, push to the
// registry on 127.0.0.1:5000, deploy from the registry reference) → `invoke` answers the
// starter's output; the task runs as non-root on a read-only root file system and turns healthy;
// `up` after an edit of the handler rolls out while a client calls in a loop, with no failed
// call; `remove` and `list` agree with the gateway.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "e2e/e2e_fixture.h"

namespace faas::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct TemplateCase {
    std::string lang;
    std::string handler_file;  ///< In the handler folder: the file whose greeting the test edits.
    std::string greeting;      ///< Text of the starter's answer, replaced by the edit.
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Replaces `from` with `to` in every file of the handler folder, as a developer changing the
/// greeting does: the handler and the test that checks it. The handler file must change.
void replace_in_handler(const fs::path& folder, const fs::path& handler, const std::string& from,
                        const std::string& to) {
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (!entry.is_regular_file()) continue;
        std::string text = read_file(entry.path());
        bool changed = false;
        for (auto at = text.find(from); at != std::string::npos;
             at = text.find(from, at + to.size())) {
            text.replace(at, from.size(), to);
            changed = true;
        }
        if (changed) std::ofstream(entry.path(), std::ios::trunc) << text;
        if (entry.path() == handler)
            REQUIRE_MESSAGE(changed, (handler.string() + " has no '" + from + "'"));
    }
}

/// The ID of a running container of the function's service.
std::string container_of(const std::string& name) {
    return shell("docker ps -q --filter label=com.docker.swarm.service.name=" + name +
                 " | head -n 1")
        .second;
}

void exercise_template(const TemplateCase& tc) {
    auto stack = stack_or_skip();
    if (!stack) return;
    const fs::path work = fs::temp_directory_path() / ("faas-e2e-template-" + tc.lang);
    fs::remove_all(work);
    fs::create_directories(work);
    Cli cli(*stack, work);
    auto login =
        cli("login --username " + quote(stack->user) + " --password-stdin", stack->password);
    REQUIRE_MESSAGE(login.first == 0, login.second);
    {
        const std::string name = "e2e-tmpl-" + tc.lang;
        remove_function(*stack, name);  // a previous run's leftover
        fs::remove_all(work / name);
        fs::remove(work / (name + ".yml"));

        auto created =
            cli("new " + name + " --lang " + tc.lang + " --prefix 127.0.0.1:5000 --quiet");
        REQUIRE_MESSAGE(created.first == 0, created.second);
        REQUIRE(fs::exists(work / (name + ".yml")));
        REQUIRE(fs::exists(work / name / tc.handler_file));

        auto started = std::chrono::steady_clock::now();
        auto up = cli("up -f " + name + ".yml --readonly --timeout 180s");
        REQUIRE_MESSAGE(up.first == 0, up.second);
        report(tc.lang + ": up (build, push, deploy, ready) " +
               std::to_string(seconds_since(started)) + " s");
        CHECK(up.second.find("/function/" + name) != std::string::npos);

        auto status = function_status(*stack, name);
        REQUIRE(status);
        CHECK((*status)["image"] == "127.0.0.1:5000/" + name + ":latest");
        CHECK((*status)["readOnlyRootFilesystem"] == true);

        auto answer = cli("invoke " + name, "World");
        REQUIRE_MESSAGE(answer.first == 0, answer.second);
        CHECK_MESSAGE(answer.second.find(tc.greeting) != std::string::npos, answer.second);

        // The task as Docker runs it: not root, read-only root, and its health check passes.
        const std::string container = container_of(name);
        REQUIRE_FALSE(container.empty());
        auto user = shell("docker inspect -f '{{.Config.User}}' " + container).second;
        CHECK_MESSAGE((!user.empty() && user != "root" && user != "0" && user.rfind("0:", 0) != 0),
                      user);
        CHECK(shell("docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' " + container).second ==
              "true");
        CHECK(eventually(
            [&] {
                return shell("docker inspect -f '{{.State.Health.Status}}' " + container).second ==
                       "healthy";
            },
            60s));

        // Edit the handler and roll it out under a calling client: no call may fail.
        replace_in_handler(work / name, work / name / tc.handler_file, tc.greeting,
                           tc.greeting + " v2");
        std::atomic<bool> stop{false};
        std::atomic<int> ok{0}, failed{0}, saw_new{0};
        std::mutex failures_mutex;
        std::map<std::string, int> failures;
        std::thread caller([&] {
            auto client = gateway(*stack, false);
            client.set_read_timeout(10);
            for (int i = 0; i < 200'000 && !stop; ++i) {
                auto res = client.Post("/function/" + name, "World", "text/plain");
                if (res && res->status == 200) {
                    ++ok;
                    if (res->body.find(tc.greeting + " v2") != std::string::npos) ++saw_new;
                } else {
                    ++failed;
                    std::lock_guard lock(failures_mutex);
                    ++failures[res ? std::to_string(res->status) + " " + res->body.substr(0, 80)
                                   : httplib::to_string(res.error())];
                }
                std::this_thread::sleep_for(20ms);
            }
        });
        started = std::chrono::steady_clock::now();
        auto update = cli("up -f " + name + ".yml --readonly --timeout 180s");
        const double update_seconds = seconds_since(started);
        // Calls keep going until the new version answers (bounded), so the old task's exit is
        // covered.
        CHECK(eventually([&] { return saw_new.load() >= 20; }, 60s));
        stop = true;
        caller.join();
        REQUIRE_MESSAGE(update.first == 0, update.second);
        std::string failure_text;
        for (const auto& [what, count] : failures)
            failure_text += "; " + what + ": " + std::to_string(count);
        report(tc.lang + ": rolling update " + std::to_string(update_seconds) + " s, " +
               std::to_string(ok.load()) + " calls ok, " + std::to_string(failed.load()) +
               " failed" + failure_text);
        CHECK_MESSAGE(failed.load() == 0, failure_text);

        auto removed = cli("remove " + name);
        CHECK_MESSAGE(removed.first == 0, removed.second);
        CHECK(eventually([&] { return !function_status(*stack, name); }, 60s));
        auto listed = cli("list --json");
        REQUIRE_MESSAGE(listed.first == 0, listed.second);
        CHECK(listed.second.find("\"" + name + "\"") == std::string::npos);
    }
    fs::remove_all(work);
}

}  // namespace

TEST_CASE("template python3-http: new, up, invoke, rolling update, remove") {
    exercise_template({"python3-http", "handler.py", "Hello from python3-http"});
}
TEST_CASE("template python3: new, up, invoke, rolling update, remove") {
    exercise_template({"python3", "handler.py", "Hello from python3"});
}
TEST_CASE("template node: new, up, invoke, rolling update, remove") {
    exercise_template({"node", "handler.js", "Hello from node"});
}
TEST_CASE("template bash: new, up, invoke, rolling update, remove") {
    exercise_template({"bash", "handler.sh", "Hello from bash"});
}
TEST_CASE("template cpp: new, up, invoke, rolling update, remove") {
    exercise_template({"cpp", "handler.cpp", "Hello from cpp"});
}
TEST_CASE("template go: new, up, invoke, rolling update, remove") {
    exercise_template({"go", "handler.go", "Hello from go"});
}
TEST_CASE("template dockerfile: new, up, invoke, rolling update, remove") {
    exercise_template({"dockerfile", "handler.sh", "Hello from a Dockerfile function"});
}

}  // namespace faas::e2e

namespace faas::e2e {

// The npm registry is reachable from builds: a node handler with a real dependency from it.
// A TLS-inspecting proxy's CA, if this machine trusts one, is handed to npm the documented way.
TEST_CASE("template node: a dependency from package.json is installed from npm at build time") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-tmpl-node-deps";
    const fs::path work = fs::temp_directory_path() / "faas-e2e-template-node-deps";
    fs::remove_all(work);
    fs::create_directories(work);
    remove_function(*stack, name);
    Cli cli(*stack, work);
    REQUIRE(cli("login --username " + quote(stack->user) + " --password-stdin", stack->password)
                .first == 0);
    auto created = cli("new " + name + " --lang node --prefix 127.0.0.1:5000 --quiet");
    REQUIRE_MESSAGE(created.first == 0, created.second);
    std::ofstream(work / name / "package.json", std::ios::trunc)
        << R"({"name": "function", "version": "1.0.0", "main": "handler.js", "private": true,)"
        << R"( "scripts": {"test": "node --test"}, "dependencies": {"ms": "^2.1.3"}})" << '\n';
    std::ofstream(work / name / "handler.js", std::ios::trunc)
        << "'use strict';\nconst ms = require('ms');\n"
           "module.exports = async (event, context) => `Two minutes are ${ms('2m')} ms`;\n";
    fs::remove(work / name / "handler.test.js");  // the starter's test checks the greeting
    auto up = cli("up -f " + name +
                  ".yml --timeout 180s --build-arg EXTRA_CA_CERTS=\"$(cat "
                  "/usr/local/share/ca-certificates/*.crt "
                  "2>/dev/null)\"");
    REQUIRE_MESSAGE(up.first == 0, up.second);
    auto answer = cli("invoke " + name, "x");
    CHECK_MESSAGE(answer.first == 0, answer.second);
    CHECK(answer.second == "Two minutes are 120000 ms");
    CHECK(cli("remove " + name).first == 0);
    fs::remove_all(work);
}

}  // namespace faas::e2e
