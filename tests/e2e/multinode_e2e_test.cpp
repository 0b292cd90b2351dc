// End-to-end on a real multi-node Swarm (issue #14): the cluster of scripts/multinode.sh (one
// manager, two workers labelled faas.role=functions, a registry every node and the host reach
// as 127.0.0.1:5001) with the repository's stack.yml deployed on it by
// scripts/multinode-stack.sh (gateway, NATS, Prometheus, Alertmanager on the manager; queue
// workers and functions on the workers). Driven from the host through the gateway on
// 192.168.232.10:8080, the `faas` CLI and the nodes' own docker CLIs (docker exec NODE docker):
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
#include <filesystem>
#include <fstream>
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
/// The cluster registry's one name, on the host and on every node.
const std::string kRegistry = env_or("FAAS_MN_REGISTRY", "127.0.0.1:5001");
const std::string kImage = kRegistry + "/faas/catservice:latest";

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

TEST_CASE("multi-node: stack.yml across nodes: placement, Prometheus scrapes every task, async") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string prefix = stack->stack_name + "_";

    // The gateway and what keeps state on the manager (their constraints), the queue workers
    // and the sample functions on the workers (the override's constraint for the functions;
    // Swarm's spread for the workers, none of which is pinned).
    for (const char* service : {"gateway", "nats", "prometheus", "alertmanager"}) {
        auto tasks = running_tasks_by_node(prefix + service);
        INFO(service << " runs on: " << describe(tasks));
        CHECK(tasks == std::map<std::string, int>{{kManager, 1}});
    }
    for (const char* function : {"catservice", "echoit", "wordcount", "env", "base64", "sleep"}) {
        auto tasks = running_tasks_by_node(prefix + function);
        INFO(function << " runs on: " << describe(tasks));
        CHECK(tasks[kWorkers[0]] + tasks[kWorkers[1]] == 1);
        CHECK(tasks.count(kManager) == 0);
    }
    auto workers = running_tasks_by_node(prefix + "queue-worker");
    INFO("queue-worker runs on: " << describe(workers));
    int worker_tasks = 0;
    for (const auto& [node, count] : workers) worker_tasks += count;
    CHECK(worker_tasks == 2);
    CHECK(invoke(*stack, "catservice", "across the overlay") ==
          std::pair<int, std::string>{200, "across the overlay"});

    // Prometheus on the manager finds every gateway and queue-worker task by DNS (tasks.*) on
    // the overlay and scrapes them, wherever they run.
    std::map<std::string, int> up_by_job;
    const bool scraped = eventually(
        [&] {
            up_by_job.clear();
            for (const auto& sample : prometheus_query(*stack, "up == 1"))
                ++up_by_job[sample["metric"].value("job", "")];
            return up_by_job["gateway"] == 1 && up_by_job["queue-worker"] == 2;
        },
        60s);
    INFO("targets up: gateway " << up_by_job["gateway"] << ", queue-worker "
                                << up_by_job["queue-worker"]);
    CHECK(scraped);
    httplib::Client alertmanager(stack->prometheus_host,
                                 std::stoi(env_or("FAAS_E2E_ALERTMANAGER_PORT", "9093")));
    alertmanager.set_connection_timeout(5s);
    auto ready = alertmanager.Get("/-/ready");
    CHECK((ready && ready->status == 200));

    // An asynchronous call crosses nodes twice: NATS on the manager, a queue worker on a worker
    // node, back through the gateway to the function on a worker. Its record says so.
    const auto queued = std::chrono::steady_clock::now();
    auto res =
        gateway(*stack, false).Post("/async-function/catservice", "later, elsewhere", "text/plain");
    REQUIRE(res);
    REQUIRE(res->status == 202);
    const std::string call_id = res->get_header_value("X-Call-Id");
    REQUIRE_FALSE(call_id.empty());
    json record;
    CHECK(eventually(
        [&] {
            auto got = gateway(*stack).Get("/system/calls/" + call_id);
            if (!got || got->status != 200) return false;
            record = json::parse(got->body, nullptr, false);
            return record.is_object() && record.value("status", "") == "succeeded";
        },
        30s));
    report("multi-node: an async call made by a queue worker on another node: succeeded " +
           seconds_text(seconds_since(queued), 2) + " after it was queued");
    CHECK(record.value("statusCode", 0) == 200);
}

TEST_CASE("multi-node: 3 replicas from the registry on both workers, all answer, scale 6 and 3") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-replicas";
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

namespace {

/// A Dockerfile from the catservice image: its own `pad_kib` KiB layer (so a node that lacks
/// it must pull it) and a process that answers "VERSION\nHOSTNAME\nBODY".
std::string function_dockerfile(const std::string& version, int pad_kib) {
    return "FROM faas/catservice:latest\n"
           "RUN head -c " +
           std::to_string(pad_kib * 1024) +
           " /dev/urandom > /home/app/pad\n"
           "ENV fprocess=\"sh -c 'echo " +
           version + "; hostname; cat'\"\n";
}

/// Removes every image of `repository` from `node`, tagged or not (Swarm pulls by digest and
/// leaves no tag), with the stopped containers that hold them; the image ids left ("" if none).
std::string forget_repository(const std::string& node, const std::string& repository) {
    on_node(node, "container prune -f");
    shell("docker exec " + node + " sh -c " +
          quote("docker image ls -q " + repository + " | sort -u | xargs -r docker image rm -f") +
          " >/dev/null 2>&1");
    auto [code, left] = on_node(node, "image ls -q " + repository);
    return code == 0 ? left : "(docker image ls failed: " + left + ")";
}

/// Waits up to 20 s until `name` runs exactly one task, on a worker; `tasks` by node as last seen.
bool one_task_on_a_worker(const std::string& name, std::map<std::string, int>& tasks) {
    return eventually(
        [&] {
            tasks = running_tasks_by_node(name);
            return tasks[kWorkers[0]] + tasks[kWorkers[1]] == 1 && tasks.count(kManager) == 0;
        },
        20s);
}

/// Builds `image` on the host from function_dockerfile().
bool build_function_image(const std::string& image, const std::string& version, int pad_kib) {
    auto [code, out] = shell("printf %s " + quote(function_dockerfile(version, pad_kib)) +
                             " | DOCKER_BUILDKIT=0 docker build -q -t " + quote(image) + " - 2>&1");
    if (code != 0) MESSAGE("docker build " << image << ": " << out);
    return code == 0;
}

/// A function `name` as a developer keeps it: stack.yml (template dockerfile, `image`, on the
/// workers) and its handler folder, whose Dockerfile answers `version`.
void write_function(const std::filesystem::path& dir, const std::string& name,
                    const std::string& image, const std::string& version) {
    std::filesystem::create_directories(dir / name);
    std::ofstream(dir / name / "Dockerfile") << function_dockerfile(version, 512);
    std::ofstream(dir / "stack.yml") << "version: 1.0\n"
                                        "provider:\n"
                                        "  name: openfaas\n"
                                        "functions:\n"
                                        "  "
                                     << name
                                     << ":\n"
                                        "    lang: dockerfile\n"
                                        "    handler: ./"
                                     << name << "\n    image: " << image
                                     << "\n"
                                        "    constraints:\n"
                                        "      - node.labels.faas.role==functions\n";
}

/// The first line of a call's answer (the version of the process that answered), "" on error.
std::string version_answering(const Stack& stack, const std::string& name) {
    auto [code, answer] = invoke(stack, name, "which?");
    return code == 200 ? answer.substr(0, answer.find('\n')) : "";
}

}  // namespace

TEST_CASE("multi-node: faas up from the host (build, push, deploy), a rolling update under load") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-pushed";
    remove_and_wait(*stack, name);
    const auto work = std::filesystem::temp_directory_path() / "faas-e2e-multinode-push";
    std::filesystem::remove_all(work);
    std::filesystem::create_directories(work);
    const std::string v1 = kRegistry + "/" + name + ":v1";
    const std::string v2 = kRegistry + "/" + name + ":v2";

    // What a developer does: `faas up` builds the image, pushes it to the registry named in the
    // stack file and deploys that same name, which each worker pulls.
    Cli cli(*stack, work);
    auto login =
        cli("login --username " + quote(stack->user) + " --password-stdin", stack->password);
    REQUIRE_MESSAGE(login.first == 0, login.second);
    write_function(work, name, v1, "v1");
    auto started = std::chrono::steady_clock::now();
    auto up = cli("up -f stack.yml");
    REQUIRE_MESSAGE(up.first == 0, up.second);
    CHECK(up.second.find("pushed " + v1) != std::string::npos);
    REQUIRE(scale(*stack, name, 2));
    REQUIRE(eventually([&] { return available(*stack, name, 2); }, 120s));
    CHECK(eventually([&] { return version_answering(*stack, name) == "v1"; }, 30s));
    report("multi-node: faas up (build, push, deploy), pulled by the workers, 2 replicas answer: " +
           seconds_text(seconds_since(started)));
    auto tasks = running_tasks_by_node(name);
    INFO("running tasks by node: " << describe(tasks));
    CHECK(tasks[kWorkers[0]] + tasks[kWorkers[1]] == 2);
    CHECK(tasks.count(kManager) == 0);

    // The rolling update: the handler changed, `faas up` again while a client calls without
    // pause. Each worker pulls v2; Swarm starts a new task before it stops an old one.
    LoadLoop load(*stack, name, 150s);
    std::this_thread::sleep_for(2s);
    write_function(work, name, v2, "v2");
    started = std::chrono::steady_clock::now();
    up = cli("up -f stack.yml");
    REQUIRE_MESSAGE(up.first == 0, up.second);
    int v2_in_a_row = 0;
    const bool rolled = eventually(
        [&] {
            v2_in_a_row = version_answering(*stack, name) == "v2" ? v2_in_a_row + 1 : 0;
            return v2_in_a_row >= 8 && available(*stack, name, 2);
        },
        120s);
    const double roll_seconds = seconds_since(started);
    std::this_thread::sleep_for(2s);
    load.stop();
    CHECK(rolled);
    report("multi-node: rolling update (faas up) v1 -> v2 on both workers: only v2 answers after " +
           seconds_text(roll_seconds) + "; calls during it " + std::to_string(load.ok()) + " ok, " +
           std::to_string(load.failures().size()) + " failed");
    INFO("first errors:\n" << load.first_errors());
    CHECK(load.failures().empty());
    CHECK(load.ok() > 0);
    auto status = function_status(*stack, name);
    REQUIRE(status);
    CHECK((*status)["image"] == v2);
    remove_and_wait(*stack, name);
    shell("docker rmi " + quote(v1) + " " + quote(v2) + " >/dev/null 2>&1");
    std::filesystem::remove_all(work);
}

TEST_CASE("multi-node: from zero on a worker that must pull the image first") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-zero";
    remove_and_wait(*stack, name);
    const std::string image = kRegistry + "/" + name + ":v1";
    REQUIRE(build_function_image(image, "v1", 4096));
    REQUIRE(shell("docker push -q " + quote(image) + " >/dev/null 2>&1").first == 0);
    json deployment = {
        {"service", name}, {"image", image}, {"constraints", {"node.labels.faas.role==functions"}}};
    REQUIRE(deploy_and_wait(*stack, deployment, 1, 120s));
    REQUIRE(scale(*stack, name, 0));
    REQUIRE(eventually(
        [&] {
            if (!available(*stack, name, 0)) return false;
            for (const auto& [node, ids] : containers_by_node(name))
                if (!ids.empty()) return false;
            return true;
        },
        60s));
    // No worker has the image any more, tagged or not (Swarm pulls by digest and leaves no
    // tag): the wake includes a real pull from the registry.
    const std::string repository = kRegistry + "/" + name;
    for (const auto& worker : kWorkers) {
        const std::string left = forget_repository(worker, repository);
        INFO(worker << " still has " << repository << ": " << left);
        CHECK(left.empty());
    }

    const auto called = std::chrono::steady_clock::now();
    auto [code, answer] = invoke(*stack, name, "wake up");
    const double took = seconds_since(called);
    report("multi-node: a call at zero replicas, image pulled anew (4 MiB layer) by a worker: " +
           std::to_string(code) + " after " + seconds_text(took, 2));
    CHECK(code == 200);
    CHECK(answer.substr(0, 3) == "v1\n");
    CHECK(took < 15.0);  // the stack's scale_from_zero_timeout
    // The gateway forwarded as soon as the new replica answered its health check; Swarm marks
    // the task running when its own health check has passed.
    std::map<std::string, int> tasks;
    CHECK(one_task_on_a_worker(name, tasks));
    INFO("running tasks by node: " << describe(tasks));
    // The worker running it has the image again: it pulled it for this call.
    for (const auto& worker : kWorkers)
        if (tasks[worker] > 0)
            CHECK_FALSE(on_node(worker, "image ls -q " + repository).second.empty());
    remove_and_wait(*stack, name);
    shell("docker rmi " + quote(image) + " >/dev/null 2>&1");
}

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

namespace {

/// Deploys `deployment`, which must be accepted (202), and waits up to `timeout` for its status
/// to say why it is short of replicas: that reason, "" if none came.
std::string deploy_for_reason(const Stack& stack, const json& deployment,
                              std::chrono::seconds timeout) {
    auto res = gateway(stack).Post("/system/functions", deployment.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    const std::string name = deployment["service"];
    std::string reason;
    eventually(
        [&] {
            auto status = function_status(stack, name);
            reason = status ? status->value("reason", "") : "";
            return !reason.empty();
        },
        timeout);
    return reason;
}

}  // namespace

TEST_CASE(
    "multi-node: an image not in the registry or no node to run on: the status says why, a call "
    "does not hang") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-noimage";
    remove_and_wait(*stack, name);
    json deployment = {{"service", name},
                       {"image", kRegistry + "/faas/not-pushed:latest"},
                       {"constraints", {"node.labels.faas.role==functions"}}};
    const auto deployed = std::chrono::steady_clock::now();
    std::string reason = deploy_for_reason(*stack, deployment, 60s);
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

    // Constraints no node meets: the status says so too.
    const std::string nowhere = "mn-nowhere";
    remove_and_wait(*stack, nowhere);
    json unplaceable = {{"service", nowhere},
                        {"image", kImage},
                        {"constraints", {"node.labels.faas.role==nowhere"}}};
    reason = deploy_for_reason(*stack, unplaceable, 30s);
    report("multi-node: constraints no node meets: status reason: " + reason);
    CHECK(reason.find("no suitable node") != std::string::npos);
    remove_and_wait(*stack, nowhere);
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
                  {"image", kRegistry + "/faas/catservice:not-pulled-yet"},
                  {"constraints", {"node.labels.faas.role==functions"}}};
    const std::string reason = deploy_for_reason(*stack, other, 90s);
    report("multi-node: registry stopped: a new deploy's status reason: " + reason);
    CHECK(reason.find("image") != std::string::npos);
    remove_and_wait(*stack, fresh);
    remove_and_wait(*stack, running);
}

namespace {

/// The tags of `repository` in the cluster registry (its HTTP API, from the host); empty when
/// it has none or does not answer.
std::set<std::string> registry_tags(const std::string& repository) {
    const auto colon = kRegistry.rfind(':');
    httplib::Client registry(kRegistry.substr(0, colon), std::stoi(kRegistry.substr(colon + 1)));
    registry.set_connection_timeout(5s);
    registry.set_read_timeout(10s);
    std::set<std::string> tags;
    auto res = registry.Get(("/v2/" + repository + "/tags/list").c_str());
    if (!res || res->status != 200) return tags;
    auto list = json::parse(res->body, nullptr, false);
    if (list.is_object() && list.contains("tags") && list["tags"].is_array())
        for (const auto& tag : list["tags"])
            if (tag.is_string()) tags.insert(tag.get<std::string>());
    return tags;
}

}  // namespace

TEST_CASE(
    "multi-node: a build from source in the gateway on the manager, pushed to the cluster "
    "registry, pulled and run by the workers") {
    auto stack = multinode_or_skip();
    if (!stack) return;
    const std::string name = "mn-gw-built";
    remove_and_wait(*stack, name);  // a previous run's leftover
    const auto work = std::filesystem::temp_directory_path() / "faas-e2e-multinode-gateway-build";
    std::filesystem::remove_all(work);
    std::filesystem::create_directories(work);

    // No node keeps an earlier run's images of the function; the manager's dockerd (the one the
    // gateway builds with) does not keep the base image either, so its build must pull it.
    // (Without -f a base image that a container on the manager uses stays, and the check below
    // is skipped.)
    const std::string repository = kRegistry + "/" + name;
    auto forget_images = [&] {
        for (const auto& node : {kManager, kWorkers[0], kWorkers[1]})
            forget_repository(node, repository);
    };
    forget_images();
    on_node(kManager, "image rm " + kImage);
    const bool base_on_manager = on_node(kManager, "image inspect " + kImage).first == 0;

    // The handler's Dockerfile starts from the catservice image in the cluster registry and
    // answers this run's own version first (so no earlier build can pass for this one).
    const std::string marker =
        "gw-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
    write_function(work, name, repository + ":latest", marker);
    std::string dockerfile = function_dockerfile(marker, 256);
    dockerfile.replace(0, dockerfile.find('\n'), "FROM " + kImage);
    std::ofstream(work / name / "Dockerfile") << dockerfile;

    // What a developer without Docker does: `faas up --remote-build` sends the source to the
    // gateway, which builds, pushes to its build_registry and deploys; it waits until ready.
    Cli cli(*stack, work);
    auto login =
        cli("login --username " + quote(stack->user) + " --password-stdin", stack->password);
    REQUIRE_MESSAGE(login.first == 0, login.second);
    const auto started = std::chrono::steady_clock::now();
    auto up = cli("up -f stack.yml --remote-build --timeout 5m");
    const double up_seconds = seconds_since(started);
    INFO("faas up --remote-build:\n" << up.second);
    REQUIRE(up.first == 0);
    CHECK(up.second.find(" is ready") != std::string::npos);

    // The build's record: ready, and its image is <build_registry>/<name>:<version>.
    auto builds = gateway(*stack).Get(("/system/builds?function=" + name + "&limit=1").c_str());
    REQUIRE(builds);
    REQUIRE(builds->status == 200);
    auto records = json::parse(builds->body, nullptr, false);
    REQUIRE(records.is_array());
    REQUIRE(records.size() == 1);
    const json record = records[0];
    INFO("build record: " << record.dump());
    CHECK(record.value("status", "") == "ready");
    CHECK(record.value("lang", "") == "dockerfile");
    const std::string image = record.value("image", "");
    const std::string version = record.value("version", "");
    REQUIRE_FALSE(version.empty());
    CHECK(image == repository + ":" + version);
    auto logs = gateway(*stack).Get(("/system/builds/" + record.value("id", "") + "/logs").c_str());
    const std::string log = logs ? logs->body : std::string();
    const bool base_pulled = log.find("Pulling from faas/catservice") != std::string::npos;
    INFO("build log:\n" << log);
    if (!base_on_manager) CHECK(base_pulled);

    // The image is in the registry, and the function's service runs it.
    CHECK(registry_tags(name).count(version) == 1);
    auto status = function_status(*stack, name);
    REQUIRE(status);
    CHECK((*status)["image"] == image);
    CHECK(on_node(kManager,
                  "service inspect --format "
                  "'{{.Spec.TaskTemplate.ContainerSpec.Image}}' " +
                      name)
              .second.find(image) == 0);

    // The first call through the gateway answers from the built image.
    int code = 0;
    std::string answer;
    CHECK(eventually(
        [&] {
            std::tie(code, answer) = invoke(*stack, name, "built by the gateway");
            return code == 200;
        },
        30s));
    const double first_200 = seconds_since(started);
    INFO("answer: " << code << " " << answer);
    CHECK(answer.substr(0, marker.size() + 1) == marker + "\n");
    CHECK(answer.size() >= 20);
    CHECK(answer.substr(answer.size() - 20) == "built by the gateway");
    report("multi-node: faas up --remote-build (the gateway on the manager builds " + version +
           (base_pulled ? ", pulling its base image" : "") + ", pushes to " + kRegistry +
           ", deploys): up returned after " + seconds_text(up_seconds) + ", first 200 after " +
           seconds_text(first_200));

    // Its task runs on a worker, which pulled the image from the registry; none on the manager.
    std::map<std::string, int> tasks;
    CHECK(one_task_on_a_worker(name, tasks));
    INFO("running tasks by node: " << describe(tasks));
    // (Swarm pulls by digest and leaves the image untagged: look for the repository.)
    int workers_with_image = 0;
    for (const auto& worker : kWorkers) {
        auto [listed, ids] = on_node(worker, "image ls -q " + repository);
        if (tasks[worker] > 0 && listed == 0 && !ids.empty()) ++workers_with_image;
    }
    CHECK(workers_with_image == 1);
    CHECK(containers_by_node(name)[kManager].empty());

    remove_and_wait(*stack, name);
    CHECK_FALSE(function_status(*stack, name));
    forget_images();
    std::filesystem::remove_all(work);
}
