// End-to-end: asynchronous calls on the real Swarm (README "Asynchronous calls"): the gateway
// stores a call in the stack's NATS, a queue worker makes it through the gateway and posts the
// result to X-Callback-Url; a worker killed under load loses no call. Driven from outside
// through the gateway's published port and the docker CLI; the callback receiver is a
// container this test starts on the stack's functions network.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace faas::e2e {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

/// A word no earlier run used, for bodies and container names.
std::string unique_suffix() {
    std::random_device random;
    std::ostringstream out;
    out << std::hex << random() << random();
    return out.str();
}

struct Enqueued {
    int status = 0;       ///< 0: no answer.
    std::string call_id;  ///< X-Call-Id of a 202.
    std::string body;
};

/// POST /async-function/<name> (no credentials: like /function/, it is open).
Enqueued enqueue(const Stack& stack, const std::string& name, const std::string& body,
                 const httplib::Headers& headers = {}) {
    auto client = gateway(stack, false);
    auto res = client.Post("/async-function/" + name, headers, body, "text/plain");
    if (!res) return {0, "", httplib::to_string(res.error())};
    return {res->status, res->get_header_value("X-Call-Id"), res->body};
}

/// GET /system/calls/<id>, or nullopt (not 200, not JSON).
std::optional<json> call_record(httplib::Client& client, const std::string& call_id) {
    auto res = client.Get("/system/calls/" + call_id);
    if (!res || res->status != 200) return std::nullopt;
    auto parsed = json::parse(res->body, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    return parsed;
}

/// The containers (ids) of the stack's queue-worker service running on this node.
std::vector<std::string> worker_containers(const Stack& stack) {
    auto [code, out] =
        shell("docker ps -q --filter label=com.docker.swarm.service.name=" + stack.stack_name +
              "_queue-worker");
    std::vector<std::string> ids;
    std::istringstream lines(out);
    for (std::string id; std::getline(lines, id);)
        if (!id.empty()) ids.push_back(id);
    return ids;
}

/// A callback receiver: faas/function-base (busybox + fwatchdog) started with `docker run` on
/// the stack's functions network, where the queue workers are. Its fprocess stores each request
/// it gets in /tmp/callbacks/<X-Call-Id>/ (the CGI headers, the body); the test reads them back
/// with `docker exec`. Removed when it goes out of scope.
class CallbackReceiver {
  public:
    explicit CallbackReceiver(const Stack& stack)
        : name_("e2e-callback-receiver-" + unique_suffix()) {
        const std::string network = stack.stack_name + "_functions";
        auto [run_code, run_out] = shell("docker run -d --name " + name_ + " --network " + network +
                                         " -e 'fprocess=sh /tmp/record.sh' -e cgi_headers=true"
                                         " faas/function-base:latest 2>&1");
        REQUIRE_MESSAGE(run_code == 0, "docker run: " << run_out);
        // fwatchdog runs the script per request, so it may arrive after the watchdog starts.
        auto [copy_code, copy_out] = shell("docker exec -i " + name_ +
                                           " sh -c 'cat >/tmp/record.sh' <<'EOF' 2>&1\n"
                                           "dir=/tmp/callbacks/${Http_X_Call_Id:-none}\n"
                                           "mkdir -p \"$dir\"\n"
                                           "env | grep '^Http_' | sort >\"$dir/headers\"\n"
                                           "cat >\"$dir/body\"\n"
                                           "echo recorded\n"
                                           "EOF\n");
        REQUIRE_MESSAGE(copy_code == 0, "installing the receiver's script: " << copy_out);
        ip_ = shell("docker inspect -f '{{(index .NetworkSettings.Networks \"" + network +
                    "\").IPAddress}}' " + name_)
                  .second;
        REQUIRE_FALSE(ip_.empty());
        REQUIRE(eventually(
            [&] {
                return shell("docker exec " + name_ +
                             " wget -q -O /dev/null http://127.0.0.1:8080/_/health")
                           .first == 0;
            },
            30s));
    }
    ~CallbackReceiver() { shell("docker rm -f " + name_ + " >/dev/null 2>&1"); }
    CallbackReceiver(const CallbackReceiver&) = delete;
    CallbackReceiver& operator=(const CallbackReceiver&) = delete;

    std::string url() const { return "http://" + ip_ + ":8080/callback"; }

    /// The X-* headers of the callback for `call_id` as Http_* CGI variables, or nullopt
    /// before it has come.
    std::optional<std::map<std::string, std::string>> headers(const std::string& call_id) const {
        auto [code, out] = shell("docker exec " + name_ + " cat /tmp/callbacks/" + call_id +
                                 "/headers 2>/dev/null");
        if (code != 0) return std::nullopt;
        std::map<std::string, std::string> found;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);)
            if (auto eq = line.find('='); eq != std::string::npos)
                found[line.substr(0, eq)] = line.substr(eq + 1);
        return found;
    }

    std::string body(const std::string& call_id) const {
        return shell("docker exec " + name_ + " cat /tmp/callbacks/" + call_id + "/body").second;
    }

  private:
    std::string name_;
    std::string ip_;
};

}  // namespace

TEST_CASE("an asynchronous call is made by a queue worker and its result posted to the callback") {
    auto stack = stack_or_skip();
    if (!stack) return;
    CallbackReceiver receiver(*stack);
    const std::string body = "async hello " + unique_suffix();

    auto started = Clock::now();
    auto enqueued = enqueue(*stack, "catservice", body, {{"X-Callback-Url", receiver.url()}});
    REQUIRE_MESSAGE(enqueued.status == 202, enqueued.status << " " << enqueued.body);
    REQUIRE_FALSE(enqueued.call_id.empty());
    const std::string& id = enqueued.call_id;

    // (b) the call's record ends succeeded, with the function's status.
    auto admin = gateway(*stack);
    std::optional<json> record;
    bool finished = eventually(
        [&] {
            record = call_record(admin, id);
            return record && record->value("status", "") != "queued" &&
                   record->value("status", "") != "running";
        },
        60s);
    REQUIRE_MESSAGE(finished, "record: " << (record ? record->dump() : "none"));
    double succeeded_seconds = seconds_since(started);
    CHECK(record->value("status", "") == "succeeded");
    CHECK(record->value("callId", "") == id);
    CHECK(record->value("function", "") == "catservice");
    CHECK(record->value("statusCode", 0) == 200);
    CHECK(record->value("attempts", 0) >= 1);
    CHECK(record->value("callbackUrl", "") == receiver.url());

    // (a) the callback came with the call id, the function's status and name, and its body.
    std::optional<std::map<std::string, std::string>> headers;
    REQUIRE(eventually(
        [&] {
            headers = receiver.headers(id);
            return headers.has_value();
        },
        60s));
    double callback_seconds = seconds_since(started);
    CHECK((*headers)["Http_X_Call_Id"] == id);
    CHECK((*headers)["Http_X_Function_Status"] == "200");
    CHECK((*headers)["Http_X_Function_Name"] == "catservice");
    CHECK((*headers)["Http_Method"] == "POST");
    CHECK_FALSE((*headers)["Http_X_Duration_Seconds"].empty());
    CHECK(receiver.body(id) == body);
    report("async call through the Swarm's NATS and queue worker: succeeded after " +
           seconds_text(succeeded_seconds) + ", callback received after " +
           seconds_text(callback_seconds));
}

TEST_CASE("an asynchronous call to an unknown function is 404 and not queued") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-no-such-function";
    auto enqueued = enqueue(*stack, name, "nobody home");
    CHECK(enqueued.status == 404);
    CHECK(enqueued.call_id.empty());
    CHECK(enqueued.body.find(name) != std::string::npos);  // "Cannot find service: <name>."
    auto res = gateway(*stack).Get("/system/calls?function=" + name);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(json::parse(res->body, nullptr, false) == json::array());
}

TEST_CASE("a queue worker killed under load: every queued call still succeeds") {
    auto stack = stack_or_skip();
    if (!stack) return;
    const std::string name = "e2e-async-sleep";
    constexpr int kCalls = 200;
    remove_function(*stack, name);  // a previous run's leftover
    // faas/sleep sleeps for the seconds in the body: long enough for calls to be in flight on
    // the worker that is killed, short enough for 200 of them (16 at a time) to take seconds.
    // Not deploy_and_wait: its probe's body ("ping") is not a number of seconds.
    auto deployed = gateway(*stack).Post(
        "/system/functions", json{{"service", name}, {"image", "faas/sleep:latest"}}.dump(),
        "application/json");
    REQUIRE(deployed);
    REQUIRE_MESSAGE(deployed->status == 202, deployed->status << " " << deployed->body);
    REQUIRE(eventually(
        [&] { return available(*stack, name, 1) && invoke(*stack, name, "0").first == 200; }, 90s));
    REQUIRE(eventually([&] { return worker_containers(*stack).size() == 2; }, 60s));

    // Enqueue every call first (4 clients at once), so most are queued when the worker dies.
    std::mutex ids_mutex;
    std::vector<std::string> ids;
    std::map<int, int> enqueue_statuses;
    std::atomic<int> next{0};
    auto enqueue_started = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&] {
            for (int i = next++; i < kCalls; i = next++) {
                auto enqueued = enqueue(*stack, name, "0.5");
                std::lock_guard lock(ids_mutex);
                ++enqueue_statuses[enqueued.status];
                if (enqueued.status == 202 && !enqueued.call_id.empty())
                    ids.push_back(enqueued.call_id);
            }
        });
    for (auto& client : clients) client.join();
    double enqueue_seconds = seconds_since(enqueue_started);
    REQUIRE_MESSAGE(
        ids.size() == kCalls, "202s: " << ids.size() << " of " << kCalls << "; " << [&] {
            std::string text;
            for (const auto& [status, count] : enqueue_statuses)
                text += std::to_string(status) + ": " + std::to_string(count) + " ";
            return text;
        }());

    // Kill one worker once calls run on both (a few have finished), most still queued.
    auto admin = gateway(*stack);
    // Of this run's calls only: records outlive the function (call_record_ttl).
    const std::set<std::string> id_set(ids.begin(), ids.end());
    auto succeeded_count = [&] {
        auto res = admin.Get("/system/calls?function=" + name + "&status=succeeded&limit=1000");
        if (!res || res->status != 200) return -1;
        auto parsed = json::parse(res->body, nullptr, false);
        if (!parsed.is_array()) return -1;
        return static_cast<int>(std::count_if(parsed.begin(), parsed.end(), [&](const json& r) {
            return r.is_object() && id_set.count(r.value("callId", "")) > 0;
        }));
    };
    CHECK(id_set.size() == ids.size());  // every call id is new
    REQUIRE(eventually([&] { return succeeded_count() >= 8; }, 60s));
    auto workers = worker_containers(*stack);
    REQUIRE(workers.size() == 2);
    int succeeded_at_kill = succeeded_count();
    auto killed_at = Clock::now();
    auto [kill_code, kill_out] = shell("docker kill " + workers.front() + " 2>&1");
    REQUIRE_MESSAGE(kill_code == 0, kill_out);

    // Every call ends succeeded: the killed worker's unacknowledged ones are delivered again
    // after ack_wait (30s in stack.yml). Each pending record is read once a round.
    std::set<std::string> pending(ids.begin(), ids.end());
    std::map<std::string, json> finished_otherwise;  // final but not succeeded
    int redelivered = 0;
    bool all_final = eventually(
        [&] {
            for (auto it = pending.begin(); it != pending.end();) {
                auto record = call_record(admin, *it);
                const std::string status = record ? record->value("status", "") : "";
                if (status == "succeeded" || status == "failed" || status == "dead-lettered" ||
                    status == "cancelled") {
                    if (status != "succeeded") finished_otherwise[*it] = *record;
                    if (record->value("attempts", 0) > 1) ++redelivered;
                    it = pending.erase(it);
                } else {
                    ++it;
                }
            }
            return pending.empty();
        },
        180s);
    double recovery_seconds = seconds_since(killed_at);
    std::string not_succeeded;
    for (const auto& [id, record] : finished_otherwise) not_succeeded += record.dump() + "\n";
    CHECK_MESSAGE(all_final, pending.size() << " calls still not final, e.g. "
                                            << (pending.empty() ? "" : *pending.begin()));
    CHECK_MESSAGE(finished_otherwise.empty(), not_succeeded);
    report("queue worker killed under load (" + std::to_string(kCalls) +
           " async calls of 0.5 s, 2 workers x max_inflight 8): enqueued in " +
           seconds_text(enqueue_seconds) + ", " + std::to_string(succeeded_at_kill) +
           " succeeded at the kill; " +
           std::to_string(kCalls - pending.size() - finished_otherwise.size()) + "/" +
           std::to_string(kCalls) + " succeeded " + seconds_text(recovery_seconds) + " after it, " +
           std::to_string(redelivered) + " made more than once");

    // Swarm replaces the killed worker.
    CHECK(eventually([&] { return worker_containers(*stack).size() == 2; }, 60s));
    remove_function(*stack, name);
}

}  // namespace faas::e2e
