// The real queue-worker program against a real nats-server, a stand-in gateway serving
// /function/<name> and a callback receiver, all on loopback. Calls are published with the
// queue library, as the gateway stores them.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "call_message.h"
#include "call_record.h"
#include "fake_http_server.h"
#include "jetstream.h"
#include "nats_server.h"
#include "queue_names.h"
#include "queue_setup.h"
#include "support/process.h"
#include "support/wait.h"

using namespace faas::queue;
using faas::test::FakeHttpServer;
using faas::test::NatsServer;
using faas::test::TempDir;
using faas::test::TestProcess;
using faas::test::wait_until;
using namespace std::chrono_literals;

namespace {

const std::string kQueue = "test-queue";

/// A gate a function handler waits at until the test opens it (or a bound passes).
class Gate {
  public:
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }
    void wait(std::chrono::milliseconds bound) {
        std::unique_lock lock(mutex_);
        opened_.wait_for(lock, bound, [this] { return open_; });
    }

  private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = false;
};

/// NATS with the streams and bucket the gateway would ensure, the gateway's stand-in running
/// the test's function, a callback receiver, and queue-worker processes.
struct Harness {
    TempDir store;
    NatsServer nats{store.path()};
    JetStream js = JetStream::connect(nats.url(), 2s);
    KeyValue records = [this] {
        js.ensure_stream(faas::queue::call_stream_config());
        js.ensure_stream(faas::queue::dead_letter_stream_config());
        return js.ensure_bucket(kRecordBucket, 24h);
    }();
    FakeHttpServer gateway;
    FakeHttpServer callbacks{
        [](const httplib::Request&, httplib::Response& response, int) { response.status = 204; }};
    std::map<std::string, std::string> settings;

    explicit Harness(FakeHttpServer::Handler function,
                     std::map<std::string, std::string> extra = {})
        : gateway(std::move(function)) {
        settings = {{"nats_url", nats.url()},
                    {"gateway_url", gateway.url()},
                    {"queue", kQueue},
                    {"ack_wait", "2s"},
                    {"upstream_timeout", "30s"},
                    {"initial_retry_wait", "100ms"},
                    {"max_retry_wait", "1s"},
                    // No metrics endpoint unless a test asks: 8081 is not ours to take.
                    {"metrics_port", "0"}};
        for (auto& [name, value] : extra) settings[name] = value;
    }

    /// A queue-worker that has set up the queue and is taking calls.
    std::unique_ptr<TestProcess> start_worker() {
        auto worker = std::make_unique<TestProcess>(
            std::vector<std::string>{FAAS_QUEUE_WORKER_PATH}, settings);
        const bool ready = wait_until(
            [&] { return worker->output().find("Taking calls from") != std::string::npos; }, 10s);
        REQUIRE_MESSAGE(ready, "queue-worker did not start: " << worker->output());
        return worker;
    }

    CallMessage message(const std::string& id) const {
        CallMessage m;
        m.call_id = id;
        m.function = "echo";
        m.method = "POST";
        m.body = "hello";
        m.queue = kQueue;
        m.enqueued_at = std::chrono::system_clock::now();
        m.callback_url = callbacks.url() + "/done";
        return m;
    }

    /// What the gateway does for /async-function: the record, queued, then the message.
    void enqueue(const CallMessage& m, CallState state = CallState::kQueued) {
        CallRecord record;
        record.call_id = m.call_id;
        record.function = m.function;
        record.queue = m.queue;
        record.state = state;
        record.queued_at = m.enqueued_at;
        record.callback_url = m.callback_url;
        record.keep_result = m.keep_result;
        records.put(m.call_id, to_json(record));
        PubAck ack = js.publish(call_subject(kQueue), encode(m), m.call_id, 2s);
        REQUIRE_FALSE(ack.duplicate);
    }

    std::optional<CallRecord> record(const std::string& id) {
        auto text = records.get(id);
        if (!text) return std::nullopt;
        return record_from_json(*text);
    }

    bool reaches(const std::string& id, CallState state, std::chrono::milliseconds bound = 10s) {
        return wait_until(
            [&] {
                auto r = record(id);
                return r && r->state == state;
            },
            bound);
    }

    std::uint64_t queued_messages() { return js.stream_state(kCallStream).messages; }
};

void answer(httplib::Response& response, int status, const std::string& body) {
    response.status = status;
    response.set_content(body, "text/plain");
}

/// GET /metrics of a worker on 127.0.0.1:`port`; "" when it does not answer 200.
std::string scrape(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    client.set_read_timeout(2);
    auto res = client.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
}

}  // namespace

TEST_CASE("a call is made as it was queued and its answer is called back") {
    Harness h([](const httplib::Request& request, httplib::Response& response, int) {
        response.status = 200;
        response.set_header("X-From-Function", "yes");
        response.set_content("result:" + request.body, "application/x-result");
    });
    auto worker = h.start_worker();
    CallMessage m = h.message("call-ok-1");
    m.method = "PUT";
    m.path = "/sub/a%20b";
    m.query = "x=1&y=two";
    m.headers = {{"Content-Type", "text/plain"},
                 {"X-Custom", "value"},
                 {"Connection", "keep-alive"},
                 {"X-Call-Id", "not this one"}};
    m.keep_result = true;
    h.enqueue(m);

    REQUIRE_MESSAGE(wait_until([&] { return h.callbacks.count() == 1; }, 10s), worker->output());
    REQUIRE(h.gateway.count() == 1);
    const auto call = h.gateway.seen().front();
    CHECK(call.method == "PUT");
    CHECK(call.target == "/function/echo/sub/a%20b?x=1&y=two");
    CHECK(call.body == "hello");
    CHECK(call.header("Content-Type") == "text/plain");
    CHECK(call.header("X-Custom") == "value");
    CHECK(call.headers.count("X-Call-Id") == 1);
    CHECK(call.header("X-Call-Id") == "call-ok-1");
    CHECK(call.headers.count("Connection") == 0);  // Hop-by-hop: the stored one is dropped.

    const auto back = h.callbacks.seen().front();
    CHECK(back.method == "POST");
    CHECK(back.target == "/done");
    CHECK(back.body == "result:hello");
    CHECK(back.header("Content-Type") == "application/x-result");
    CHECK(back.header("X-From-Function") == "yes");
    CHECK(back.header("X-Call-Id") == "call-ok-1");
    CHECK(back.header("X-Function-Status") == "200");
    CHECK(back.header("X-Function-Name") == "echo");
    CHECK(std::stod(back.header("X-Duration-Seconds")) >= 0);

    REQUIRE(h.reaches("call-ok-1", CallState::kSucceeded));
    const CallRecord record = *h.record("call-ok-1");
    CHECK(record.attempts == 1);
    CHECK(record.status_code == 200);
    CHECK(record.started_at.has_value());
    CHECK(record.finished_at.has_value());
    CHECK(record.result == std::optional<std::string>("result:hello"));
    CHECK(record.queued_at == m.enqueued_at);
    // Acknowledged: the work queue is empty.
    CHECK(wait_until([&] { return h.queued_messages() == 0; }, 5s));
    CHECK(worker->output().find("Call call-ok-1 function echo attempt 1 status 200") !=
          std::string::npos);
}

TEST_CASE("503 twice then 200: succeeded on the third attempt, after back-off") {
    Harness h([](const httplib::Request&, httplib::Response& response,
                 int n) { answer(response, n <= 2 ? 503 : 200, n <= 2 ? "busy" : "done"); },
              {{"initial_retry_wait", "300ms"}, {"max_retry_wait", "2s"}});
    auto worker = h.start_worker();
    h.enqueue(h.message("call-retry-1"));

    REQUIRE_MESSAGE(h.reaches("call-retry-1", CallState::kSucceeded), worker->output());
    const CallRecord record = *h.record("call-retry-1");
    CHECK(record.attempts == 3);
    CHECK(record.status_code == 200);
    const auto calls = h.gateway.seen();
    REQUIRE(calls.size() == 3);
    CHECK(calls[1].at - calls[0].at >= 280ms);  // backoff(1) = 300 ms
    CHECK(calls[2].at - calls[1].at >= 580ms);  // backoff(2) = 600 ms
    for (const auto& call : calls) CHECK(call.header("X-Call-Id") == "call-retry-1");
    REQUIRE(wait_until([&] { return h.callbacks.count() == 1; }, 5s));
    CHECK(h.callbacks.seen().front().header("X-Function-Status") == "200");
    CHECK(h.callbacks.seen().front().body == "done");
}

TEST_CASE("always 503: dead-lettered after the last attempt, with the reason") {
    Harness h([](const httplib::Request&, httplib::Response& response,
                 int) { answer(response, 503, "overloaded"); },
              {{"max_retry_attempts", "3"}});
    auto worker = h.start_worker();
    const CallMessage m = h.message("call-dead-1");
    h.enqueue(m);

    REQUIRE_MESSAGE(h.reaches("call-dead-1", CallState::kDeadLettered), worker->output());
    const CallRecord record = *h.record("call-dead-1");
    CHECK(record.attempts == 3);
    CHECK(record.status_code == 503);
    CHECK(record.error == "no success after 3 attempts: last status 503");
    CHECK(h.gateway.count() == 3);

    ConsumerConfig dead;
    dead.stream = kDeadLetterStream;
    dead.durable = "test-reader";
    dead.filter_subject = dead_letter_subject(kQueue);
    PullConsumer reader = h.js.ensure_consumer(dead);
    auto letters = reader.fetch(10, 5s);
    REQUIRE(letters.size() == 1);
    CHECK(letters.front().header("Faas-Dead-Letter-Reason") ==
          std::optional<std::string>("no success after 3 attempts: last status 503"));
    CHECK(letters.front().header("Faas-Call-Id") == std::optional<std::string>("call-dead-1"));
    CHECK(decode(letters.front().data(), 1 << 20) == m);

    REQUIRE(wait_until([&] { return h.callbacks.count() == 1; }, 5s));
    const auto back = h.callbacks.seen().front();
    CHECK(back.header("X-Function-Status") == "503");
    CHECK(back.body == "overloaded");
    CHECK(wait_until([&] { return h.queued_messages() == 0; }, 5s));
}

TEST_CASE("a worker killed mid-call: the call is delivered again and completes") {
    Gate release;
    Harness h([&](const httplib::Request&, httplib::Response& response, int n) {
        if (n == 1) release.wait(20s);  // The first attempt hangs until the test ends.
        answer(response, 200, "attempt " + std::to_string(n));
    });
    // Opened before the gateway's stand-in stops (it waits for its handlers), however the
    // test ends.
    struct Opener {
        Gate& gate;
        ~Opener() { gate.open(); }
    } opener{release};
    auto first = h.start_worker();
    h.enqueue(h.message("call-killed-1"));
    REQUIRE(wait_until([&] { return h.gateway.count() == 1; }, 10s));
    REQUIRE(h.reaches("call-killed-1", CallState::kRunning, 5s));
    first->signal(SIGKILL);
    REQUIRE(first->wait_exit(5s).has_value());

    auto second = h.start_worker();
    // Delivered again once the killed worker's ack_wait (2 s) has run out.
    REQUIRE_MESSAGE(h.reaches("call-killed-1", CallState::kSucceeded, 15s), second->output());
    const CallRecord record = *h.record("call-killed-1");
    CHECK(record.attempts == 2);
    CHECK(h.gateway.count() == 2);
    REQUIRE(wait_until([&] { return h.callbacks.count() == 1; }, 5s));
    CHECK(h.callbacks.seen().front().body == "attempt 2");
    CHECK(wait_until([&] { return h.queued_messages() == 0; }, 5s));
}

TEST_CASE("a call longer than ack_wait is not delivered twice") {
    Harness h(
        [](const httplib::Request&, httplib::Response& response, int) {
            std::this_thread::sleep_for(3500ms);  // The function's own duration.
            answer(response, 200, "slow");
        },
        {{"ack_wait", "1s"}, {"max_inflight", "4"}});
    auto worker = h.start_worker();
    h.enqueue(h.message("call-slow-1"));

    REQUIRE_MESSAGE(h.reaches("call-slow-1", CallState::kSucceeded, 15s), worker->output());
    CHECK(h.record("call-slow-1")->attempts == 1);
    CHECK(h.gateway.count() == 1);
    // Two more ack_waits: a redelivery would have shown by now.
    CHECK_FALSE(wait_until([&] { return h.gateway.count() > 1; }, 2s));
    CHECK(h.callbacks.count() == 1);
    CHECK(h.queued_messages() == 0);
}

TEST_CASE("a call cancelled before the worker takes it is not made") {
    Harness h([](const httplib::Request&, httplib::Response& response, int) {
        answer(response, 200, "should not run");
    });
    h.enqueue(h.message("call-cancelled-1"), CallState::kCancelled);
    auto worker = h.start_worker();

    REQUIRE_MESSAGE(wait_until([&] { return h.queued_messages() == 0; }, 10s), worker->output());
    CHECK(wait_until([&] { return worker->output().find("call-cancelled-1") != std::string::npos; },
                     5s));
    CHECK(worker->output().find("cancelled, not called") != std::string::npos);
    CHECK(h.gateway.count() == 0);
    CHECK(h.callbacks.count() == 0);
    CHECK(h.record("call-cancelled-1")->state == CallState::kCancelled);
}

TEST_CASE("a bad setting: exit code 2 and the variable's name") {
    const std::map<std::string, std::string> bad[] = {
        {{"max_inflight", "0"}},         {{"queue", "not.valid"}},   {{"ack_wait", "whenever"}},
        {{"retry_http_codes", "503,x"}}, {{"max_async_bytes", "0"}},
    };
    for (const auto& env : bad) {
        TestProcess worker({FAAS_QUEUE_WORKER_PATH}, env);
        const auto code = worker.wait_exit(10s);
        const std::string name = env.begin()->first;
        CHECK_MESSAGE(code == std::optional<int>(2), name);
        CHECK_MESSAGE(worker.output().find(name) != std::string::npos, worker.output());
    }
}

TEST_CASE("SIGTERM: no more calls taken, the call in flight finishes, exit 0") {
    Harness h([](const httplib::Request&, httplib::Response& response, int) {
        std::this_thread::sleep_for(1s);  // The function's own duration.
        answer(response, 200, "finished");
    });
    auto worker = h.start_worker();
    h.enqueue(h.message("call-term-1"));
    REQUIRE(wait_until([&] { return h.gateway.count() == 1; }, 10s));
    worker->signal(SIGTERM);
    const auto code = worker->wait_exit(15s);
    CHECK_MESSAGE(code == std::optional<int>(0), worker->output());
    CHECK(h.callbacks.count() == 1);
    CHECK(h.record("call-term-1")->state == CallState::kSucceeded);
    CHECK(h.queued_messages() == 0);

    h.enqueue(h.message("call-term-2"));  // Nobody takes it now.
    CHECK(h.queued_messages() == 1);
}

TEST_CASE("a message that is not a call is dropped, and the next call is made") {
    Harness h([](const httplib::Request&, httplib::Response& response, int) {
        answer(response, 200, "ok");
    });
    auto worker = h.start_worker();
    h.js.publish(call_subject(kQueue), "not a call message", "junk-1", 2s);
    h.enqueue(h.message("call-after-junk"));
    REQUIRE_MESSAGE(h.reaches("call-after-junk", CallState::kSucceeded), worker->output());
    CHECK(worker->output().find("Dropping message 1 on faas.calls.test-queue") !=
          std::string::npos);
    CHECK(h.gateway.count() == 1);
}

TEST_CASE("a worker started before NATS waits for it, then takes calls") {
    TempDir store;
    const int port = faas::test::free_port();
    FakeHttpServer gateway([](const httplib::Request&, httplib::Response& response, int) {
        answer(response, 200, "ok");
    });
    TestProcess worker({FAAS_QUEUE_WORKER_PATH},
                       {{"nats_url", "nats://127.0.0.1:" + std::to_string(port)},
                        {"gateway_url", gateway.url()},
                        {"queue", kQueue},
                        {"metrics_port", "0"}});
    REQUIRE(wait_until(
        [&] { return worker.output().find("Waiting for NATS") != std::string::npos; }, 10s));
    CHECK(worker.running());

    NatsServer nats(store.path(), port);
    REQUIRE_MESSAGE(
        wait_until([&] { return worker.output().find("Taking calls from") != std::string::npos; },
                   15s),
        worker.output());
    JetStream js = JetStream::connect(nats.url(), 2s);
    CallMessage m;
    m.call_id = "call-late-nats";
    m.function = "echo";
    m.method = "GET";
    m.queue = kQueue;
    m.enqueued_at = std::chrono::system_clock::now();
    js.publish(call_subject(kQueue), encode(m), m.call_id, 2s);
    REQUIRE_MESSAGE(wait_until([&] { return gateway.count() == 1; }, 10s), worker.output());
    // Without a record from the gateway the worker writes one.
    KeyValue records = js.ensure_bucket(kRecordBucket, 24h);
    CHECK(wait_until(
        [&] {
            auto text = records.get("call-late-nats");
            return text && record_from_json(*text).state == CallState::kSucceeded;
        },
        5s));
}

TEST_CASE("the worker's /metrics counts calls by outcome, retries, callbacks and durations") {
    const int metrics_port = faas::test::free_port();
    Harness h(
        [](const httplib::Request& request, httplib::Response& response, int) {
            const bool flaky = request.path.starts_with("/function/flaky");
            answer(response, flaky ? 503 : 200, flaky ? "busy" : "ok");
        },
        {{"max_retry_attempts", "2"}, {"metrics_port", std::to_string(metrics_port)}});
    auto worker = h.start_worker();
    REQUIRE(worker->output().find("Metrics listening on port: " + std::to_string(metrics_port)) !=
            std::string::npos);
    const std::string before = scrape(metrics_port);
    CHECK(before.find("queue_worker_inflight 0\n") != std::string::npos);
    CHECK(before.find("queue_worker_calls_total{") == std::string::npos);

    h.enqueue(h.message("call-metrics-ok"));
    CallMessage flaky = h.message("call-metrics-dead");
    flaky.function = "flaky";
    h.enqueue(flaky);
    h.enqueue(h.message("call-metrics-cancelled"), CallState::kCancelled);
    REQUIRE_MESSAGE(h.reaches("call-metrics-dead", CallState::kDeadLettered), worker->output());
    REQUIRE(h.reaches("call-metrics-ok", CallState::kSucceeded));
    REQUIRE(wait_until([&] { return h.queued_messages() == 0; }, 10s));

    const std::vector<std::string> expected = {
        R"(queue_worker_calls_total{function="echo",outcome="succeeded"} 1)",
        R"(queue_worker_calls_total{function="flaky",outcome="dead_lettered"} 1)",
        R"(queue_worker_calls_total{function="echo",outcome="cancelled"} 1)",
        R"(queue_worker_retries_total{function="flaky"} 1)",
        R"(queue_worker_callbacks_total{result="delivered"} 2)",
        R"(queue_worker_callbacks_total{result="failed"} 0)",
        "queue_worker_call_duration_seconds_count 3",
        "queue_worker_inflight 0",
    };
    std::string text;
    const bool counted = wait_until(
        [&] {
            text = scrape(metrics_port);
            for (const auto& line : expected)
                if (text.find(line + "\n") == std::string::npos) return false;
            return true;
        },
        10s);
    for (const auto& line : expected)
        CHECK_MESSAGE(text.find(line + "\n") != std::string::npos, line, " in:\n", text);
    CHECK(counted);
}

TEST_CASE("a metrics_port already taken: the worker says so and exits non-zero") {
    TempDir store;
    NatsServer nats(store.path());
    FakeHttpServer taken([](const httplib::Request&, httplib::Response& response, int) {
        answer(response, 200, "ok");
    });
    const std::string port = taken.url().substr(taken.url().rfind(':') + 1);
    TestProcess worker({FAAS_QUEUE_WORKER_PATH},
                       {{"nats_url", nats.url()}, {"queue", kQueue}, {"metrics_port", port}});
    const auto code = worker.wait_exit(10s);
    CHECK_MESSAGE(code == std::optional<int>(1), worker.output());
    CHECK(worker.output().find("Cannot listen on metrics_port " + port) != std::string::npos);
}
