// End-to-end: the stack deployed on a real Swarm (scripts/e2e.sh), driven from outside
// through the gateway's published port, Prometheus' HTTP API and the docker CLI.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "e2e/e2e_fixture.h"

using namespace faas::e2e;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Functions the tests deploy are prefixed so a failed run's leftovers are easy to spot.
const char* kFunctionImage = "faas/env:latest";

std::set<std::string> hostnames_seen(const Stack& stack, const std::string& name, int calls) {
    std::set<std::string> seen;
    for (int i = 0; i < calls; ++i) {
        auto [code, body] = invoke(stack, name, "");
        if (code != 200) continue;
        auto at = body.find("HOSTNAME=");
        if (at != std::string::npos) seen.insert(body.substr(at + 9, body.find('\n', at) - at - 9));
    }
    return seen;
}

}  // namespace

TEST_CASE("every sample function answers by path and by X-Function") {
    auto stack = stack_or_skip();
    if (!stack) return;
    CHECK(invoke(*stack, "catservice", "hi") == std::pair<int, std::string>{200, "hi"});
    CHECK(invoke(*stack, "echoit", "hello there") ==
          std::pair<int, std::string>{200, "hello there"});
    auto [wc_code, wc_body] = invoke(*stack, "wordcount", "one two three\n");
    CHECK(wc_code == 200);
    CHECK(wc_body.find(" 3 ") != std::string::npos);
    auto [b64_code, b64_body] = invoke(*stack, "base64", "hi");
    CHECK(b64_code == 200);
    CHECK(b64_body.rfind("aGk=", 0) == 0);
    auto [env_code, env_body] = invoke(*stack, "env", "");
    CHECK(env_code == 200);
    CHECK(env_body.find("fprocess=env") != std::string::npos);
    CHECK(invoke(*stack, "sleep", "0.1").first == 200);

    auto client = gateway(*stack, false);
    for (const char* name : {"catservice", "echoit"}) {
        auto res =
            client.Post("/", httplib::Headers{{"X-Function", name}}, "via header", "text/plain");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body == "via header");
    }
    CHECK(invoke(*stack, "no-such-function", "x").first == 404);

    auto info = gateway(*stack).Get("/system/info");
    REQUIRE(info);
    CHECK(info->status == 200);
    CHECK(json::parse(info->body)["provider"]["provider"] == "faas-swarm");
}

TEST_CASE("basic auth guards the admin API and leaves functions open") {
    auto stack = stack_or_skip();
    if (!stack) return;
    auto anonymous = gateway(*stack, false);
    auto res = anonymous.Get("/system/functions");
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK(res->get_header_value("WWW-Authenticate").find("Basic") != std::string::npos);

    auto wrong = gateway(*stack, false);
    wrong.set_basic_auth(stack->user, stack->password + "x");
    res = wrong.Get("/system/functions");
    REQUIRE(res);
    CHECK(res->status == 401);
    res = wrong.Post("/system/functions", R"({"service":"e2e-sneaky","image":"faas/env:latest"})",
                     "application/json");
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK_FALSE(function_status(*stack, "e2e-sneaky"));

    res = gateway(*stack).Get("/system/functions");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(invoke(*stack, "catservice", "open").first == 200);
}

TEST_CASE("a function is deployed, read, listed, updated, scaled and removed through the API") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-lifecycle";
    remove_function(*stack, name);  // a previous run's leftover
    json deployment = {{"service", name},
                       {"image", kFunctionImage},
                       {"envVars", {{"STAGE", "one"}}},
                       {"labels", {{"team", "e2e"}}},
                       {"annotations", {{"topic", "tests"}}},
                       {"limits", {{"memory", "64m"}}},
                       {"readOnlyRootFilesystem", true}};
    auto started = std::chrono::steady_clock::now();
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 90s));
    report("deploy to first successful invocation: " +
           std::to_string(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()) +
           " s");

    auto status = function_status(*stack, name);
    REQUIRE(status);
    CHECK((*status)["name"] == name);
    CHECK((*status)["image"] == kFunctionImage);
    CHECK((*status)["envVars"] == json({{"STAGE", "one"}}));
    CHECK((*status)["labels"] == json({{"team", "e2e"}, {"faas_function", name}}));
    CHECK((*status)["annotations"] == json({{"topic", "tests"}}));
    CHECK((*status)["limits"] == json({{"memory", "64m"}}));  // as sent, not in bytes
    CHECK((*status)["readOnlyRootFilesystem"] == true);
    CHECK((*status)["replicas"] == 1);
    CHECK((*status)["availableReplicas"] == 1);
    CHECK_FALSE((*status)["createdAt"].get<std::string>().empty());
    CHECK(invoke(*stack, name, "").second.find("STAGE=one") != std::string::npos);
    auto [inspect_code, inspect] = shell(
        "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.ReadOnly}} "
        "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}' " +
        name);
    CHECK(inspect == "true 67108864");

    auto res = gateway(*stack).Get("/system/functions");
    REQUIRE(res);
    auto list = json::parse(res->body);
    std::set<std::string> names;
    for (const auto& item : list) names.insert(item.value("name", ""));
    for (const char* expected : {"catservice", "echoit", "wordcount", "env", "base64", "sleep"})
        CHECK_MESSAGE(names.count(expected) == 1, expected);
    CHECK(names.count(name) == 1);
    CHECK(names.count("gateway") == 0);
    CHECK(names.count("prometheus") == 0);

    // Rolling update: the new environment shows up and the function keeps answering.
    deployment["envVars"]["STAGE"] = "two";
    res = gateway(*stack).Put("/system/functions", deployment.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    int failures_during_update = 0;
    CHECK(eventually(
        [&] {
            auto [code, body] = invoke(*stack, name, "");
            if (code != 200) ++failures_during_update;
            return code == 200 && body.find("STAGE=two") != std::string::npos;
        },
        90s));
    report("failed calls while polling through the rolling update: " +
           std::to_string(failures_during_update));
    CHECK((*function_status(*stack, name))["envVars"] == json({{"STAGE", "two"}}));

    REQUIRE(scale(*stack, name, 3));
    CHECK(eventually([&] { return available(*stack, name, 3); }, 90s));
    // The gateway balances over all three task IPs itself (no Swarm VIP).
    std::set<std::string> seen;
    CHECK(eventually(
        [&] {
            for (const auto& host : hostnames_seen(*stack, name, 12)) seen.insert(host);
            return seen.size() == 3;
        },
        30s));
    REQUIRE(scale(*stack, name, 1));
    CHECK(eventually([&] { return available(*stack, name, 1); }, 90s));
    CHECK(invoke(*stack, name, "").first == 200);

    // PUT of the same deployment still rolls the replica (a rebuilt local image keeps its tag).
    // Scaled-down replicas drain for a moment (and the gateway's view lags up to a second).
    std::set<std::string> before;
    CHECK(eventually(
        [&] {
            before = hostnames_seen(*stack, name, 4);
            return before.size() == 1;
        },
        30s));
    REQUIRE(before.size() == 1);
    res = gateway(*stack).Put("/system/functions", deployment.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    CHECK(eventually(
        [&] {
            auto now = hostnames_seen(*stack, name, 2);
            return now.size() == 1 && *now.begin() != *before.begin();
        },
        90s));

    // Names other services answer to on the network are not for functions.
    res = gateway(*stack).Post("/system/functions",
                               json({{"service", "gateway"}, {"image", kFunctionImage}}).dump(),
                               "application/json");
    REQUIRE(res);
    CHECK(res->status == 409);

    auto missing = gateway(*stack).Put(
        "/system/functions", json({{"service", "e2e-missing"}, {"image", kFunctionImage}}).dump(),
        "application/json");
    REQUIRE(missing);
    CHECK(missing->status == 404);

    remove_function(*stack, name);
    CHECK_FALSE(function_status(*stack, name));
    CHECK(eventually([&] { return invoke(*stack, name, "").first == 404; }, 10s));
}

TEST_CASE("a secret created through the API is read by a function") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-secret-reader";
    const std::string secret = "e2e-api-key";
    remove_function(*stack, name);
    auto client = gateway(*stack);
    client.Delete("/system/secrets", json({{"name", secret}}).dump(), "application/json");

    auto res =
        client.Post("/system/secrets", json({{"name", secret}, {"value", "s3cr3t-value"}}).dump(),
                    "application/json");
    REQUIRE(res);
    CHECK((res->status == 201 || res->status == 200 || res->status == 202));
    res = client.Get("/system/secrets");
    REQUIRE(res);
    CHECK(res->body.find(secret) != std::string::npos);
    CHECK(res->body.find("s3cr3t-value") == std::string::npos);  // names only
    // The gateway's own credentials are not functions' secrets.
    CHECK(res->body.find("basic-auth-password") == std::string::npos);

    json deployment = {{"service", name},
                       {"image", "faas/catservice:latest"},
                       {"envProcess", "cat /var/openfaas/secrets/" + secret},
                       {"secrets", {secret}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 90s));
    CHECK(invoke(*stack, name, "") == std::pair<int, std::string>{200, "s3cr3t-value"});
    // In use: Swarm cannot change it under the running task.
    res = client.Put("/system/secrets", json({{"name", secret}, {"value", "new"}}).dump(),
                     "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(invoke(*stack, name, "").second == "s3cr3t-value");

    json forbidden = {{"service", "e2e-secret-thief"},
                      {"image", "faas/catservice:latest"},
                      {"secrets", {"basic-auth-password"}}};
    res = client.Post("/system/functions", forbidden.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 404);

    remove_function(*stack, name);
    // No longer mounted: now it can be replaced.
    CHECK(eventually(
        [&] {
            auto put =
                client.Put("/system/secrets", json({{"name", secret}, {"value", "rotated"}}).dump(),
                           "application/json");
            return put && put->status == 200;
        },
        60s));
    CHECK(deploy_and_wait(*stack, deployment, 1, 90s));
    CHECK(invoke(*stack, name, "") == std::pair<int, std::string>{200, "rotated"});
    remove_function(*stack, name);
    CHECK(eventually(
        [&] {
            auto del = client.Delete("/system/secrets", json({{"name", secret}}).dump(),
                                     "application/json");
            return del && del->status >= 200 && del->status < 300;
        },
        60s));
}

TEST_CASE("system logs return the watchdog's lines") {
    auto stack = stack_or_skip();
    if (!stack) return;
    REQUIRE(invoke(*stack, "catservice", "for the logs").first == 200);
    bool found = eventually(
        [&] {
            auto res = gateway(*stack).Get("/system/logs?name=catservice&tail=200");
            if (!res || res->status != 200) return false;
            return res->body.find("Forking fprocess.") != std::string::npos &&
                   res->body.find("\"instance\"") != std::string::npos &&
                   res->body.find("\"timestamp\"") != std::string::npos;
        },
        20s);
    CHECK(found);
    // Following: a line written after the request began arrives on the open stream.
    std::string followed;
    auto follower = gateway(*stack);
    follower.set_read_timeout(15);
    std::atomic<bool> marker_seen{false};
    std::thread caller([&] {
        for (int i = 0; i < 40 && !marker_seen; ++i) {
            invoke(*stack, "catservice", "follow me");
            std::this_thread::sleep_for(250ms);
        }
    });
    auto start = std::chrono::system_clock::now();
    follower.Get("/system/logs?name=catservice&follow=true&tail=0",
                 [&](const char* data, std::size_t length) {
                     followed.append(data, length);
                     bool done = followed.find("Forking fprocess.") != std::string::npos ||
                                 std::chrono::system_clock::now() - start > 10s;
                     if (done) marker_seen = true;
                     return !done;
                 });
    marker_seen = true;
    caller.join();
    CHECK(followed.find("Forking fprocess.") != std::string::npos);

    auto res = gateway(*stack).Get("/system/logs?name=no-such-function");
    REQUIRE(res);
    CHECK(res->status == 404);
}

TEST_CASE("killing a replica under load: the gateway keeps answering from the others") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-chaos";
    remove_function(*stack, name);
    json deployment = {{"service", name},
                       {"image", "faas/catservice:latest"},
                       {"labels", {{"com.openfaas.scale.min", "3"}}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 3, 120s));

    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::mutex outcomes_mutex;
    std::map<std::string, int> failures;  // status or transport error -> count
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&] {
            auto client = gateway(*stack, false);
            client.set_read_timeout(10);
            for (int i = 0; i < 100'000 && !stop; ++i) {
                auto res = client.Post("/function/" + name, "load", "text/plain");
                if (res && res->status == 200 && res->body == "load") {
                    ++ok;
                    continue;
                }
                ++failed;
                std::lock_guard lock(outcomes_mutex);
                ++failures[res ? std::to_string(res->status) : httplib::to_string(res.error())];
            }
        });
    auto load_for = [&](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    load_for(2s);  // load is flowing before the kill
    auto [ps_code, containers] =
        shell("docker ps -q --filter label=com.openfaas.function=" + name + " | head -n 1");
    REQUIRE(ps_code == 0);
    REQUIRE_FALSE(containers.empty());
    int ok_at_kill = ok.load();
    int failed_at_kill = failed.load();
    auto [kill_code, killed] = shell("docker kill " + containers + " 2>&1");
    CHECK(kill_code == 0);
    load_for(8s);  // Swarm notices, the gateway drops the dead IP, a new task starts
    int failed_after_settle = failed.load();
    load_for(4s);
    stop = true;
    for (auto& t : clients) t.join();
    report("replica killed under load (4 clients, 1 of 3 replicas): " + std::to_string(ok.load()) +
           " ok, " + std::to_string(failed.load()) + " failed (" + std::to_string(failed_at_kill) +
           " before the kill, " + std::to_string(ok.load() - ok_at_kill) + " ok after it)" + [&] {
               std::string text;
               for (const auto& [what, count] : failures)
                   text += "; " + what + ": " + std::to_string(count);
               return text;
           }());
    CHECK(failed_at_kill == 0);
    CHECK(ok.load() - ok_at_kill > 0);
    // Once the gateway has seen the task die, nothing more fails.
    CHECK(failed.load() == failed_after_settle);
    CHECK(failed.load() * 100 <= ok.load() + failed.load());  // at most 1%
    CHECK(eventually([&] { return available(*stack, name, 3); }, 90s));
    remove_function(*stack, name);
}

TEST_CASE("an alert posted to /system/alert scales a function up and back") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-alert";
    remove_function(*stack, name);
    json deployment = {{"service", name},
                       {"image", "faas/catservice:latest"},
                       {"labels",
                        {{"com.openfaas.scale.min", "1"},
                         {"com.openfaas.scale.max", "4"},
                         {"com.openfaas.scale.factor", "50"}}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 90s));
    auto alert = [&](const char* status) {
        json body = {
            {"status", status},
            {"receiver", "scale-up"},
            {"alerts",
             {{{"status", status},
               {"labels", {{"alertname", "APIHighInvocationRate"}, {"function_name", name}}}}}}};
        auto res = gateway(*stack).Post("/system/alert", body.dump(), "application/json");
        return res ? res->status : 0;
    };
    CHECK(alert("firing") == 200);
    CHECK(eventually([&] { return available(*stack, name, 3); }, 90s));  // 1 + ceil(4 * 50%)
    CHECK(alert("resolved") == 200);
    CHECK(eventually([&] { return available(*stack, name, 1); }, 90s));
    remove_function(*stack, name);
}

TEST_CASE(
    "high load fires APIHighInvocationRate and Alertmanager scales the function up and back") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-autoscale";
    remove_function(*stack, name);
    json deployment = {{"service", name},
                       {"image", "faas/catservice:latest"},
                       {"labels",
                        {{"com.openfaas.scale.min", "1"},
                         {"com.openfaas.scale.max", "3"},
                         {"com.openfaas.scale.factor", "50"}}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 90s));

    // Well over 5 calls a second until the alert has gone through Prometheus (5 s scrapes,
    // 10 s rate, for: 5s) and Alertmanager (group_wait 5s) to /system/alert.
    std::atomic<bool> stop{false};
    std::thread load([&] {
        auto client = gateway(*stack, false);
        for (int i = 0; i < 1'000'000 && !stop; ++i) {
            client.Post("/function/" + name, "load", "text/plain");
            std::this_thread::sleep_for(5ms);
        }
    });
    auto t0 = std::chrono::steady_clock::now();
    bool scaled_up = eventually(
        [&] {
            auto status = function_status(*stack, name);
            return status && status->value("replicas", 0) > 1;
        },
        90s);
    auto up_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stop = true;
    load.join();
    CHECK(scaled_up);
    auto t1 = std::chrono::steady_clock::now();
    bool scaled_down = eventually([&] { return available(*stack, name, 1); }, 120s);
    CHECK(scaled_down);
    report("autoscaling through Prometheus and Alertmanager: scaled up " +
           std::to_string(up_seconds) + " s after load began, back to 1 replica " +
           std::to_string(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count()) +
           " s after it stopped");
    remove_function(*stack, name);
}

TEST_CASE("Prometheus scraped the invocation counter of an invoked function") {
    auto stack = stack_or_skip();
    if (!stack) return;
    for (int i = 0; i < 5; ++i) REQUIRE(invoke(*stack, "echoit", "count me").first == 200);
    bool scraped = eventually(
        [&] {
            auto result = prometheus_query(
                *stack, R"(gateway_function_invocation_total{function_name="echoit",code="200"})");
            return result.is_array() && !result.empty() &&
                   std::stod(result[0]["value"][1].get<std::string>()) >= 5;
        },
        45s);
    CHECK(scraped);
}

TEST_CASE("every Grafana panel's expression returns data from the stack's Prometheus") {
    auto stack = stack_or_skip();
    if (!stack) return;
    std::ifstream file(FAAS_SOURCE_DIR "/monitor/grafana/dashboards/faas.json");
    REQUIRE(file);
    auto dashboard = json::parse(file);
    std::vector<std::pair<std::string, std::string>> expressions;  // panel title, expr
    for (const auto& panel : dashboard["panels"])
        for (const auto& target : panel["targets"])
            expressions.emplace_back(panel["title"], target["expr"]);
    REQUIRE(expressions.size() >= 5);

    // Traffic of every kind the panels show: successes and a function timing out (408).
    auto traffic = [&] {
        for (int i = 0; i < 5; ++i) invoke(*stack, "catservice", "panel");
        invoke(*stack, "sleep", "3");  // over the stack's exec_timeout of 2s
    };
    traffic();
    std::set<std::string> empty;
    for (const auto& [title, expr] : expressions) empty.insert(expr);
    eventually(
        [&] {
            traffic();
            for (auto it = empty.begin(); it != empty.end();)
                it = prometheus_query(*stack, *it).empty() ? std::next(it) : empty.erase(it);
            return empty.empty();
        },
        90s);
    for (const auto& [title, expr] : expressions)
        CHECK_MESSAGE(empty.count(expr) == 0, "no data for panel '" << title << "': " << expr);
}

TEST_CASE("while dockerd is frozen the admin API fails clearly and functions keep answering") {
    auto stack = stack_or_skip();
    if (!stack) return;
    REQUIRE(invoke(*stack, "catservice", "before").first == 200);
    auto [pid_code, pid] = shell("cat /var/run/docker.pid 2>/dev/null || pidof dockerd");
    REQUIRE(pid_code == 0);
    REQUIRE_FALSE(pid.empty());
    // SIGSTOP: the socket still accepts connections but nothing answers, the worst case for a
    // client. Containers (containerd) and the overlay data plane (the kernel) keep running.
    struct Thaw {
        std::string pid;
        ~Thaw() { shell("kill -CONT " + pid); }
    } thaw{pid};
    REQUIRE(shell("kill -STOP " + pid).first == 0);
    // A group stop completes only as each of dockerd's threads gets scheduled (slow on a busy
    // machine): make sure the engine really is silent before asking the gateway.
    bool silent = eventually(
        [&] {
            shell("kill -STOP " + pid);
            return shell("grep -q '^State:.*stopped' /proc/" + pid +
                         "/status && "
                         "! curl -s -m 1 --unix-socket /var/run/docker.sock http://docker/_ping")
                       .first == 0;
        },
        20s);
    REQUIRE(silent);

    auto t0 = std::chrono::steady_clock::now();
    auto res = gateway(*stack).Get("/system/functions");
    auto admin_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(res);
    CHECK((res->status == 502 || res->status == 503));
    CHECK(res->body.find("Docker") != std::string::npos);
    CHECK(admin_seconds < 10);
    int ok = 0;
    for (int i = 0; i < 50; ++i) ok += invoke(*stack, "catservice", "frozen").first == 200;
    CHECK(ok == 50);
    report("dockerd frozen: /system/functions answered " + std::to_string(res->status) + " in " +
           std::to_string(admin_seconds) + " s; " + std::to_string(ok) + "/50 invocations ok");

    shell("kill -CONT " + pid);
    CHECK(eventually(
        [&] {
            auto again = gateway(*stack).Get("/system/functions");
            return again && again->status == 200;
        },
        30s));
    CHECK(invoke(*stack, "catservice", "after").first == 200);
}

TEST_CASE("a gateway killed and restarted by Swarm serves its functions from its first request") {
    auto stack = stack_or_skip();
    if (!stack) return;
    auto [ps_code, task] =
        shell("docker ps -q --filter label=com.docker.swarm.service.name=" + stack->stack_name +
              "_gateway | head -n 1");
    REQUIRE(ps_code == 0);
    REQUIRE_FALSE(task.empty());
    REQUIRE(shell("docker kill " + task + " >/dev/null 2>&1").first == 0);
    auto t0 = std::chrono::steady_clock::now();
    // Down first (so the next success is the new task), then up again.
    eventually([&] { return !gateway(*stack, false).Get("/healthz"); }, 10s);
    int status = 0;
    bool answered = eventually(
        [&] {
            auto client = gateway(*stack, false);
            client.set_connection_timeout(1);
            auto res = client.Post("/function/catservice", "first", "text/plain");
            if (!res) return false;  // not listening yet
            status = res->status;
            return true;
        },
        60s);
    REQUIRE(answered);
    CHECK(status == 200);  // not 404: the functions are known before the first request
    report("gateway killed: first invocation answered " + std::to_string(status) + " " +
           std::to_string(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) +
           " s after the kill");
}
