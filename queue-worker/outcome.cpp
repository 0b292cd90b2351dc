// Deciding a call's outcome from its status and attempt number.
#include "outcome.h"

namespace faas::queue_worker {

bool is_retryable(const queue::RetryPolicy& policy, int status) {
    return status == kNoAnswer || policy.retry_statuses.count(status) > 0;
}

Outcome decide_outcome(const queue::RetryPolicy& policy, int status, int attempt) {
    Outcome outcome;
    if (status >= 200 && status <= 299) {
        outcome.kind = OutcomeKind::kSucceeded;
        return outcome;
    }
    if (!is_retryable(policy, status)) {
        outcome.kind = OutcomeKind::kFailed;
        outcome.error = "the function answered " + std::to_string(status);
        return outcome;
    }
    if (attempt < policy.max_attempts) {
        outcome.kind = OutcomeKind::kRetry;
        outcome.retry_after = queue::backoff(policy, attempt);
        return outcome;
    }
    outcome.kind = OutcomeKind::kDeadLettered;
    outcome.error = "no success after " + std::to_string(attempt) + " attempts: last status " +
                    std::to_string(status);
    return outcome;
}

const char* outcome_name(OutcomeKind kind) {
    switch (kind) {
        case OutcomeKind::kRetry:
            return "retrying";
        case OutcomeKind::kDeadLettered:
            return "dead-lettered";
        case OutcomeKind::kSucceeded:
            return "succeeded";
        case OutcomeKind::kFailed:
            return "failed";
    }
    return "failed";
}

}  // namespace faas::queue_worker
