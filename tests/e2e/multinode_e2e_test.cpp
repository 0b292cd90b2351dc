// End-to-end on a real multi-node Swarm (issue #14): the cluster of scripts/multinode.sh (one
// manager, two workers labelled faas.role=functions, a registry) with the gateway of
// scripts/multinode-stack.sh on the manager. Driven from the host through the gateway on
// 192.168.232.10:8080 and the nodes' own docker CLIs (docker exec NODE docker ...):
//
//   scripts/multinode.sh up && scripts/multinode-stack.sh up
//   eval "$(scripts/multinode-stack.sh env)"
//   ctest --test-dir BUILD -L e2e-multinode --output-on-failure
//
// Label e2e-multinode (scripts/e2e.sh runs '^e2e$' only). Without the cluster it prints
// E2E-SKIPPED (CTest: skipped); when required (CI) it fails.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"

using namespace faas::e2e;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

const std::string kManager = env_or("FAAS_MN_MANAGER", "faas-mn-mgr");
const std::string kManagerIp = env_or("FAAS_MN_MANAGER_IP", "192.168.232.10");
const std::vector<std::string> kWorkers = {"faas-mn-w1", "faas-mn-w2"};
const std::string kImage =
    env_or("FAAS_MN_REGISTRY_PULL", "192.168.232.5:5000") + "/faas/catservice:latest";

/// `docker ARGS` on a node (the node's own dockerd, inside its container).
std::pair<int, std::string> on_node(const std::string& node, const std::string& args) {
    return shell("docker exec " + node + " docker " + args + " 2>&1");
}

/// The multi-node stack, or nullopt after E2E-SKIPPED; when required (CI, FAAS_E2E_REQUIRED=1
/// or FAAS_MN_REQUIRED=1, as scripts/e2e-multinode.sh runs it) a failure instead. The
/// environment must point at the manager's gateway, not at the host's single-node stack.
std::optional<Stack> multinode_or_skip() {
    const bool aimed = env_or("FAAS_E2E_GATEWAY_HOST", "") == kManagerIp;
    const bool required = env_or("FAAS_MN_REQUIRED", "") == "1" ||
                          env_or("FAAS_E2E_REQUIRED", "") == "1" || !env_or("CI", "").empty();
    std::string why;
    if (!aimed) {
        why = "FAAS_E2E_GATEWAY_HOST is not the multi-node manager " + kManagerIp +
              " (scripts/multinode.sh up && scripts/multinode-stack.sh up, then "
              "eval \"$(scripts/multinode-stack.sh env)\")";
    } else {
        auto [code, nodes] = on_node(kManager, "node ls --format '{{.Hostname}} {{.Status}}'");
        if (code != 0 || nodes.find(kWorkers[0] + " Ready") == std::string::npos ||
            nodes.find(kWorkers[1] + " Ready") == std::string::npos)
            why = "the multi-node swarm is not up (docker exec " + kManager +
                  " docker node ls: " + nodes + ")";
    }
    if (!why.empty()) {
        if (required) FAIL("multi-node end-to-end tests required but " << why);
        std::cout << "E2E-SKIPPED: did not run: " << why << std::endl;
        return std::nullopt;
    }
    return stack_or_skip();
}

/// Node name -> number of running tasks of `service` (the manager's view).
std::map<std::string, int> running_tasks_by_node(const std::string& service) {
    std::map<std::string, int> by_node;
    auto [code, out] = on_node(kManager,
                               "service ps --filter desired-state=running "
                               "--format '{{.Node}} {{.CurrentState}}' " +
                                   service);
    if (code != 0) return by_node;
    std::istringstream lines(out);
    std::string node, state;
    while (lines >> node >> state) {
        std::string rest;
        std::getline(lines, rest);
        if (state == "Running") ++by_node[node];
    }
    return by_node;
}

/// Node name -> short ids (= hostnames) of the running containers of function `name`.
std::map<std::string, std::set<std::string>> containers_by_node(const std::string& name) {
    std::map<std::string, std::set<std::string>> by_node;
    for (const auto& node : {kManager, kWorkers[0], kWorkers[1]}) {
        auto [code, out] = on_node(
            node, "ps -q --filter status=running --filter label=com.openfaas.function=" + name);
        if (code != 0) continue;
        std::istringstream ids(out);
        std::string id;
        while (ids >> id) by_node[node].insert(id);
    }
    return by_node;
}

/// Calls `name` `calls` times; the hostnames of the replicas that answered 200 with the body
/// echoed (the function runs `hostname; cat`), and how many calls failed.
std::set<std::string> replicas_answering(const Stack& stack, const std::string& name, int calls,
                                         int& failures) {
    std::set<std::string> seen;
    for (int i = 0; i < calls; ++i) {
        const std::string body = "call-" + std::to_string(i);
        auto [code, answer] = invoke(stack, name, body);
        auto newline = answer.find('\n');
        if (code != 200 || newline == std::string::npos || answer.substr(newline + 1) != body) {
            if (++failures <= 3) MESSAGE("call " << i << ": " << code << " " << answer);
            continue;
        }
        seen.insert(answer.substr(0, newline));
    }
    return seen;
}

void remove_and_wait(const Stack& stack, const std::string& name) {
    auto client = gateway(stack);
    client.Delete("/system/functions", json({{"functionName", name}}).dump(), "application/json");
    eventually(
        [&] {
            if (function_status(stack, name)) return false;
            for (const auto& [node, ids] : containers_by_node(name))
                if (!ids.empty()) return false;
            return on_node(kManager, "service inspect " + name).first != 0;
        },
        60s);
}

std::string describe(const std::map<std::string, int>& by_node) {
    std::string text;
    for (const auto& [node, count] : by_node)
        text += (text.empty() ? "" : ", ") + node + "=" + std::to_string(count);
    return text.empty() ? "none" : text;
}

}  // namespace

TEST_CASE("multi-node: 3 replicas from the registry on both workers, all answer, scale 6 and 3") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "catservice";
    remove_and_wait(*stack, name);  // a previous run's leftover

    // catservice's image with `hostname; cat`: still an echo, prefixed by the replica's name.
    json deployment = {{"service", name},
                       {"image", kImage},
                       {"envProcess", "sh -c 'hostname; cat'"},
                       {"constraints", {"node.labels.faas.role==functions"}}};
    auto client = gateway(*stack);
    auto started = std::chrono::steady_clock::now();
    auto res = client.Post("/system/functions", deployment.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 202);
    // The deployment asks for one replica; scale to 3 right away, so the first pulls overlap.
    REQUIRE(scale(*stack, name, 3));
    bool up = eventually([&] { return available(*stack, name, 3); }, 180s);
    if (!up) {
        MESSAGE("status: " << function_status(*stack, name).value_or(json()).dump());
        MESSAGE(on_node(kManager, "service ps --no-trunc " + name).second);
    }
    REQUIRE(up);
    report("multi-node: deploy (image pulled from the registry by the workers) to 3 available: " +
           seconds_text(seconds_since(started)));
    auto first = std::chrono::steady_clock::now();
    CHECK(eventually([&] { return invoke(*stack, name, "ping").first == 200; }, 30s));
    report("multi-node: 3 available to first 200 through the gateway: " +
           seconds_text(seconds_since(first)));

    // Placement: on both workers, none on the manager.
    auto tasks = running_tasks_by_node(name);
    INFO("running tasks by node: " << describe(tasks));
    CHECK(tasks[kWorkers[0]] >= 1);
    CHECK(tasks[kWorkers[1]] >= 1);
    CHECK(tasks[kWorkers[0]] + tasks[kWorkers[1]] == 3);
    CHECK(tasks.count(kManager) == 0);

    // Every replica answers through the gateway, including those across the overlay.
    int failures = 0;
    auto calls_started = std::chrono::steady_clock::now();
    auto seen = replicas_answering(*stack, name, 60, failures);
    report("multi-node: 60 calls over 3 replicas: " + std::to_string(failures) + " failed, " +
           std::to_string(seen.size()) + " distinct replicas answered, " +
           seconds_text(seconds_since(calls_started)));
    CHECK(failures == 0);
    CHECK(seen.size() == 3);
    auto containers = containers_by_node(name);
    for (const auto& worker : kWorkers) {
        int answered_here = 0;
        for (const auto& id : containers[worker]) answered_here += seen.count(id);
        INFO("containers on " << worker << " answered: " << answered_here);
        CHECK(answered_here >= 1);
    }

    // Scale to 6 (still only on the workers) and back to 3.
    started = std::chrono::steady_clock::now();
    REQUIRE(scale(*stack, name, 6));
    CHECK(eventually([&] { return available(*stack, name, 6); }, 120s));
    report("multi-node: scale 3 -> 6 available: " + seconds_text(seconds_since(started)));
    tasks = running_tasks_by_node(name);
    INFO("running tasks by node at 6: " << describe(tasks));
    CHECK(tasks[kWorkers[0]] + tasks[kWorkers[1]] == 6);
    CHECK(tasks.count(kManager) == 0);
    std::set<std::string> seen6;
    failures = 0;
    CHECK(eventually(
        [&] {
            for (const auto& host : replicas_answering(*stack, name, 24, failures))
                seen6.insert(host);
            return seen6.size() == 6;
        },
        30s));
    report("multi-node: at 6 replicas, " + std::to_string(seen6.size()) + " distinct answered, " +
           std::to_string(failures) + " calls failed");
    CHECK(failures == 0);

    started = std::chrono::steady_clock::now();
    REQUIRE(scale(*stack, name, 3));
    CHECK(eventually([&] { return available(*stack, name, 3); }, 120s));
    report("multi-node: scale 6 -> 3 available: " + seconds_text(seconds_since(started)));
    CHECK(eventually(
        [&] {
            auto now = running_tasks_by_node(name);
            return now[kWorkers[0]] + now[kWorkers[1]] == 3 && now.count(kManager) == 0;
        },
        60s));
    // The gateway drops the removed replicas: calls keep answering from the 3 left.
    failures = 0;
    std::set<std::string> seen3;
    CHECK(eventually(
        [&] {
            seen3 = replicas_answering(*stack, name, 12, failures);
            return seen3.size() == 3;
        },
        30s));
    report("multi-node: back at 3 replicas, calls failed while scaling down: " +
           std::to_string(failures));
    CHECK(failures == 0);

    started = std::chrono::steady_clock::now();
    remove_and_wait(*stack, name);
    CHECK_FALSE(function_status(*stack, name));
    for (const auto& [node, ids] : containers_by_node(name)) {
        INFO("containers left on " << node);
        CHECK(ids.empty());
    }
    report("multi-node: removed in " + seconds_text(seconds_since(started)));
}

namespace {

/// Calls `name` in a loop on a thread of its own until stopped (at most `limit`): each
/// failure's time, and the count of calls answered 200.
class LoadLoop {
  public:
    LoadLoop(const Stack& stack, std::string name, std::chrono::seconds limit)
        : thread_([this, stack, name = std::move(name), limit] {
              const auto end = std::chrono::steady_clock::now() + limit;
              for (int i = 0; !stop_ && std::chrono::steady_clock::now() < end; ++i) {
                  auto [code, answer] = invoke(stack, name, "load-" + std::to_string(i));
                  std::lock_guard lock(mutex_);
                  if (code == 200) {
                      ++ok_;
                  } else {
                      failed_at_.push_back(std::chrono::steady_clock::now());
                      if (failed_at_.size() <= 5)
                          first_errors_ += std::to_string(code) + " " + answer + "\n";
                  }
              }
          }) {}
    ~LoadLoop() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int ok() {
        std::lock_guard lock(mutex_);
        return ok_;
    }
    std::vector<std::chrono::steady_clock::time_point> failures() {
        std::lock_guard lock(mutex_);
        return failed_at_;
    }
    std::string first_errors() {
        std::lock_guard lock(mutex_);
        return first_errors_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    int ok_ = 0;
    std::vector<std::chrono::steady_clock::time_point> failed_at_;
    std::string first_errors_;
    std::thread thread_;  // last: started once the rest is made
};

std::string node_status(const std::string& node) {
    return on_node(kManager, "node inspect -f '{{.Status.State}}' " + node).second;
}

}  // namespace

TEST_CASE("multi-node: a worker killed under load: calls go on, its replicas move to the other") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "catfailover";
    const std::string victim = kWorkers[1];
    const std::string survivor = kWorkers[0];
    remove_and_wait(*stack, name);
    json deployment = {{"service", name},
                       {"image", kImage},
                       {"envProcess", "cat"},
                       {"constraints", {"node.labels.faas.role==functions"}}};
    auto client = gateway(*stack);
    REQUIRE(client.Post("/system/functions", deployment.dump(), "application/json"));
    REQUIRE(scale(*stack, name, 4));
    REQUIRE(eventually([&] { return available(*stack, name, 4); }, 120s));
    auto tasks = running_tasks_by_node(name);
    INFO("running tasks by node: " << describe(tasks));
    REQUIRE(tasks[victim] >= 1);

    LoadLoop load(*stack, name, 150s);
    std::this_thread::sleep_for(3s);
    const auto killed = std::chrono::steady_clock::now();
    REQUIRE(shell("docker kill " + victim + " >/dev/null 2>&1").first == 0);
    bool down = eventually([&] { return node_status(victim).find("down") == 0; }, 60s);
    const auto noticed = std::chrono::steady_clock::now();
    CHECK(down);
    bool moved = eventually(
        [&] {
            auto now = running_tasks_by_node(name);
            return now[survivor] == 4 && available(*stack, name, 4);
        },
        90s);
    const auto all_moved = std::chrono::steady_clock::now();
    CHECK(moved);
    std::this_thread::sleep_for(3s);  // load on the 4 replicas of the survivor
    load.stop();

    // Failures while Swarm (and so the gateway, which reads it) did not know yet, and after.
    int before_noticed = 0;
    int after_noticed = 0;
    for (const auto& at : load.failures()) (at <= noticed + 2s ? before_noticed : after_noticed)++;
    report("multi-node failover: node Down " +
           seconds_text(seconds_since(killed) - seconds_since(noticed)) +
           " after the kill, every replica running on " + survivor + " after " +
           seconds_text(std::chrono::duration<double>(all_moved - killed).count()) + "; calls " +
           std::to_string(load.ok()) + " ok, " + std::to_string(before_noticed) +
           " failed before the gateway could know (node Down + one refresh), " +
           std::to_string(after_noticed) + " after");
    INFO("first errors:\n" << load.first_errors());
    CHECK(after_noticed == 0);
    CHECK(load.ok() > 0);

    // The worker comes back and rejoins.
    const auto restarted = std::chrono::steady_clock::now();
    REQUIRE(shell("docker start " + victim + " >/dev/null 2>&1").first == 0);
    CHECK(eventually([&] { return node_status(victim).find("ready") == 0; }, 90s));
    report("multi-node failover: " + victim + " Ready again " +
           seconds_text(seconds_since(restarted)) + " after docker start");
    remove_and_wait(*stack, name);
}

TEST_CASE("multi-node: an image not in the registry: the status says why, a call does not hang") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-noimage";
    remove_and_wait(*stack, name);
    json deployment = {{"service", name},
                       {"image", env_or("FAAS_MN_REGISTRY_PULL", "192.168.232.5:5000") +
                                     "/faas/not-pushed:latest"},
                       {"constraints", {"node.labels.faas.role==functions"}}};
    auto client = gateway(*stack);
    auto res = client.Post("/system/functions", deployment.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    std::string reason;
    const auto deployed = std::chrono::steady_clock::now();
    CHECK(eventually(
        [&] {
            auto status = function_status(*stack, name);
            reason = status ? status->value("reason", "") : "";
            return !reason.empty();
        },
        60s));
    report("multi-node: image not in the registry: status reason after " +
           seconds_text(seconds_since(deployed)) + ": " + reason);
    CHECK(reason.find("image") != std::string::npos);
    CHECK(reason.find('\n') == std::string::npos);

    const auto called = std::chrono::steady_clock::now();
    auto [code, answer] = invoke(*stack, name, "anyone?");
    const double took = seconds_since(called);
    report("multi-node: a call to it answered " + std::to_string(code) + " after " +
           seconds_text(took));
    CHECK(code == 504);
    CHECK(took < 60.0);  // upstream_timeout
    remove_and_wait(*stack, name);
}

TEST_CASE("multi-node: the registry stopped: running functions answer, a new deploy says why") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string running = "catnoregistry";
    const std::string fresh = "catnoregistry-new";
    const std::string registry = env_or("FAAS_MN_REGISTRY_CONTAINER", "faas-mn-registry");
    remove_and_wait(*stack, running);
    remove_and_wait(*stack, fresh);
    json deployment = {{"service", running},
                       {"image", kImage},
                       {"envProcess", "sh -c 'hostname; cat'"},
                       {"constraints", {"node.labels.faas.role==functions"}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 120s));
    REQUIRE(scale(*stack, running, 2));
    REQUIRE(eventually([&] { return available(*stack, running, 2); }, 120s));

    REQUIRE(shell("docker stop " + registry + " >/dev/null 2>&1").first == 0);
    struct Restart {  // the registry comes back whatever happens below
        std::string name;
        ~Restart() { shell("docker start " + name + " >/dev/null 2>&1"); }
    } restart{registry};
    int failures = 0;
    auto answered = replicas_answering(*stack, running, 40, failures);
    report("multi-node: registry stopped: 40 calls to a running function, " +
           std::to_string(failures) + " failed");
    CHECK(failures == 0);
    CHECK(answered.empty() == false);

    // A function whose image the workers do not have yet cannot start: its status says why.
    json other = {{"service", fresh},
                  {"image", env_or("FAAS_MN_REGISTRY_PULL", "192.168.232.5:5000") +
                                "/faas/catservice:not-pulled-yet"},
                  {"constraints", {"node.labels.faas.role==functions"}}};
    auto res = gateway(*stack).Post("/system/functions", other.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    std::string reason;
    CHECK(eventually(
        [&] {
            auto status = function_status(*stack, fresh);
            reason = status ? status->value("reason", "") : "";
            return !reason.empty();
        },
        90s));
    report("multi-node: registry stopped: a new deploy's status reason: " + reason);
    CHECK(reason.find("image") != std::string::npos);
    remove_and_wait(*stack, fresh);
    remove_and_wait(*stack, running);
}
