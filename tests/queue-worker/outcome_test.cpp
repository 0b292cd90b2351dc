// What becomes of a call after an attempt: the whole table of status and attempt.
#include "outcome.h"

#include <doctest/doctest.h>

using faas::queue::RetryPolicy;
using namespace faas::queue_worker;
using std::chrono::milliseconds;

namespace {

RetryPolicy three_attempts() {
    RetryPolicy policy;
    policy.max_attempts = 3;
    policy.initial_wait = milliseconds(100);
    policy.max_wait = milliseconds(1000);
    return policy;
}

}  // namespace

TEST_CASE("2xx succeeds on any attempt") {
    for (int status : {200, 201, 202, 204, 299})
        for (int attempt : {1, 3, 50}) {
            const Outcome outcome = decide_outcome(three_attempts(), status, attempt);
            CHECK(outcome.kind == OutcomeKind::kSucceeded);
            CHECK(outcome.error.empty());
        }
}

TEST_CASE("a status the policy does not list fails at once, with the status in the error") {
    for (int status : {100, 301, 400, 404, 500, 501}) {
        const Outcome outcome = decide_outcome(three_attempts(), status, 1);
        CHECK_MESSAGE(outcome.kind == OutcomeKind::kFailed, status);
        CHECK(outcome.error.find(std::to_string(status)) != std::string::npos);
    }
}

TEST_CASE("a listed status, or no answer, is retried with the policy's back-off") {
    const RetryPolicy policy = three_attempts();
    for (int status : {kNoAnswer, 429, 502, 503, 504}) {
        const Outcome first = decide_outcome(policy, status, 1);
        CHECK_MESSAGE(first.kind == OutcomeKind::kRetry, status);
        CHECK(first.retry_after == milliseconds(100));
        const Outcome second = decide_outcome(policy, status, 2);
        CHECK(second.kind == OutcomeKind::kRetry);
        CHECK(second.retry_after == milliseconds(200));
    }
    CHECK(is_retryable(policy, kNoAnswer));
    CHECK_FALSE(is_retryable(policy, 500));
}

TEST_CASE("the last attempt of a retryable status is dead-lettered with the reason") {
    const Outcome last = decide_outcome(three_attempts(), 503, 3);
    CHECK(last.kind == OutcomeKind::kDeadLettered);
    CHECK(last.error == "no success after 3 attempts: last status 503");
    // Redeliveries after crashes count too: past the last attempt is still the last.
    const Outcome beyond = decide_outcome(three_attempts(), kNoAnswer, 7);
    CHECK(beyond.kind == OutcomeKind::kDeadLettered);
    CHECK(beyond.error == "no success after 7 attempts: last status 0");
    RetryPolicy once = three_attempts();
    once.max_attempts = 1;  // Never retry.
    CHECK(decide_outcome(once, 503, 1).kind == OutcomeKind::kDeadLettered);
}

TEST_CASE("outcome names for the log") {
    CHECK(std::string(outcome_name(OutcomeKind::kRetry)) == "retrying");
    CHECK(std::string(outcome_name(OutcomeKind::kDeadLettered)) == "dead-lettered");
    CHECK(std::string(outcome_name(OutcomeKind::kSucceeded)) == "succeeded");
    CHECK(std::string(outcome_name(OutcomeKind::kFailed)) == "failed");
}
