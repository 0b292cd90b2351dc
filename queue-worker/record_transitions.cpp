// Call record transitions.
#include "record_transitions.h"

#include <cstdlib>

namespace faas::queue_worker {

queue::CallRecord current_record(const queue::CallMessage& message,
                                 const std::optional<queue::CallRecord>& stored) {
    if (stored) return *stored;
    queue::CallRecord record;
    record.call_id = message.call_id;
    record.function = message.function;
    record.queue = message.queue;
    record.state = queue::CallState::kQueued;
    record.queued_at = message.enqueued_at;
    record.callback_url = message.callback_url;
    record.keep_result = message.keep_result;
    return record;
}

queue::CallRecord mark_running(queue::CallRecord record, int attempt, Clock::time_point now) {
    record.state = queue::CallState::kRunning;
    record.attempts = attempt;
    if (!record.started_at) record.started_at = now;
    record.error.clear();
    return record;
}

queue::CallRecord mark_retrying(queue::CallRecord record, const AttemptResult& attempt) {
    record.state = queue::CallState::kQueued;
    record.status_code = attempt.status;
    record.duration_seconds = attempt.duration_seconds;
    return record;
}

queue::CallRecord mark_finished(queue::CallRecord record, const Outcome& outcome,
                                const AttemptResult& attempt, Clock::time_point now) {
    switch (outcome.kind) {
        case OutcomeKind::kSucceeded:
            record.state = queue::CallState::kSucceeded;
            break;
        case OutcomeKind::kDeadLettered:
            record.state = queue::CallState::kDeadLettered;
            break;
        case OutcomeKind::kFailed:
            record.state = queue::CallState::kFailed;
            break;
        case OutcomeKind::kRetry:
            std::abort();  // Not a final state: a bug in the caller, never a runtime condition.
    }
    record.status_code = attempt.status;
    record.duration_seconds = attempt.duration_seconds;
    record.error = outcome.kind == OutcomeKind::kSucceeded ? std::string() : outcome.error;
    record.finished_at = now;
    record.result.reset();
    record.result_truncated = false;
    if (record.keep_result) {
        if (attempt.body.size() <= queue::kMaxKeptResultBytes)
            record.result = std::string(attempt.body);
        else
            record.result_truncated = true;
    }
    return record;
}

}  // namespace faas::queue_worker
