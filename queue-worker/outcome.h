// What becomes of a call after one attempt: tried again later, dead-lettered, or finished as a
// success or a failure. Pure, so the whole table is unit-tested.
#pragma once

#include <chrono>
#include <string>

#include "retry_policy.h"

namespace faas::queue_worker {

/// The status of an attempt that got no answer at all (gateway down, refused, timed out).
inline constexpr int kNoAnswer = 0;

enum class OutcomeKind {
    kRetry,         ///< Back to the queue, delivered again after `retry_after`.
    kDeadLettered,  ///< Retryable, but that was the last attempt.
    kSucceeded,     ///< 2xx.
    kFailed,        ///< Any other answer, not retried.
};

struct Outcome {
    OutcomeKind kind = OutcomeKind::kFailed;
    std::chrono::milliseconds retry_after{0};  ///< kRetry only.
    std::string error;                         ///< One line, for kDeadLettered and kFailed.
};

/// Whether `status` is worth another attempt: no answer (kNoAnswer) always is, an answer when
/// the policy lists it.
bool is_retryable(const queue::RetryPolicy& policy, int status);

/// The outcome of attempt number `attempt` (1 for the first) that answered `status`. A
/// redelivery after a crash counts as an attempt too, so `attempt` may exceed the policy's
/// max_attempts: it is then the last one.
Outcome decide_outcome(const queue::RetryPolicy& policy, int status, int attempt);

/// "succeeded", "retrying", "dead-lettered", "failed": for log lines.
const char* outcome_name(OutcomeKind kind);

}  // namespace faas::queue_worker
