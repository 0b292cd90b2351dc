// A call's record as the worker moves it along: running, queued again, finished.
#include "record_transitions.h"

#include <doctest/doctest.h>

using namespace faas::queue;
using namespace faas::queue_worker;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kEnqueued = Clock::time_point(1'800'000'000s);

CallMessage message() {
    CallMessage m;
    m.call_id = "call-1";
    m.function = "echo";
    m.method = "POST";
    m.queue = "faas-request";
    m.enqueued_at = kEnqueued;
    m.callback_url = "http://127.0.0.1:9/done";
    m.keep_result = true;
    return m;
}

}  // namespace

TEST_CASE("without a stored record one is made from the message, queued") {
    const CallRecord record = current_record(message(), std::nullopt);
    CHECK(record.call_id == "call-1");
    CHECK(record.function == "echo");
    CHECK(record.queue == "faas-request");
    CHECK(record.state == CallState::kQueued);
    CHECK(record.queued_at == kEnqueued);
    CHECK(record.callback_url == std::optional<std::string>("http://127.0.0.1:9/done"));
    CHECK(record.keep_result);
    CHECK(record.attempts == 0);
}

TEST_CASE("a stored record is kept: the gateway's queued_at, callback and keep_result") {
    CallRecord stored = current_record(message(), std::nullopt);
    stored.queued_at = kEnqueued - 1s;
    stored.callback_url.reset();
    stored.keep_result = false;
    CHECK(current_record(message(), stored) == stored);
}

TEST_CASE("running: attempts from the delivery, started_at set on the first only") {
    const auto t1 = kEnqueued + 1s;
    CallRecord first = mark_running(current_record(message(), std::nullopt), 1, t1);
    CHECK(first.state == CallState::kRunning);
    CHECK(first.attempts == 1);
    CHECK(first.started_at == t1);
    CallRecord retried = mark_retrying(first, AttemptResult{503, 0.25, "busy"});
    CHECK(retried.state == CallState::kQueued);
    CHECK(retried.status_code == 503);
    CHECK(retried.duration_seconds == 0.25);
    CHECK_FALSE(retried.result);  // Only a final answer is kept.
    CallRecord second = mark_running(retried, 2, t1 + 5s);
    CHECK(second.attempts == 2);
    CHECK(second.started_at == t1);
    CHECK(second.status_code == 503);  // The last answer until the next one.
}

TEST_CASE("finished: state, status, error, finished_at and the kept body") {
    const auto now = kEnqueued + 9s;
    CallRecord running = mark_running(current_record(message(), std::nullopt), 3, now - 1s);

    CallRecord ok = mark_finished(running, Outcome{OutcomeKind::kSucceeded, {}, ""},
                                  AttemptResult{200, 0.5, "result"}, now);
    CHECK(ok.state == CallState::kSucceeded);
    CHECK(ok.status_code == 200);
    CHECK(ok.finished_at == now);
    CHECK(ok.result == std::optional<std::string>("result"));
    CHECK_FALSE(ok.result_truncated);
    CHECK(ok.error.empty());

    CallRecord failed = mark_finished(running, Outcome{OutcomeKind::kFailed, {}, "answered 404"},
                                      AttemptResult{404, 0.1, "no"}, now);
    CHECK(failed.state == CallState::kFailed);
    CHECK(failed.status_code == 404);
    CHECK(failed.error == "answered 404");

    const std::string reason = "no success after 3 attempts: last status 503";
    CallRecord dead = mark_finished(running, Outcome{OutcomeKind::kDeadLettered, {}, reason},
                                    AttemptResult{503, 0.1, ""}, now);
    CHECK(dead.state == CallState::kDeadLettered);
    CHECK(dead.error == reason);
    CHECK(dead.attempts == 3);
}

TEST_CASE(
    "a body over kMaxKeptResultBytes is left out and marked truncated, none kept unless asked") {
    CallRecord running = mark_running(current_record(message(), std::nullopt), 1, kEnqueued);
    const std::string large(kMaxKeptResultBytes + 1, 'x');
    CallRecord big = mark_finished(running, Outcome{OutcomeKind::kSucceeded, {}, ""},
                                   AttemptResult{200, 1, large}, kEnqueued);
    CHECK_FALSE(big.result);
    CHECK(big.result_truncated);
    const std::string fits(kMaxKeptResultBytes, 'x');
    CHECK(mark_finished(running, Outcome{OutcomeKind::kSucceeded, {}, ""},
                        AttemptResult{200, 1, fits}, kEnqueued)
              .result->size() == kMaxKeptResultBytes);
    running.keep_result = false;
    CallRecord unkept = mark_finished(running, Outcome{OutcomeKind::kSucceeded, {}, ""},
                                      AttemptResult{200, 1, "x"}, kEnqueued);
    CHECK_FALSE(unkept.result);
    CHECK_FALSE(unkept.result_truncated);
}
