// How the queue worker moves a call's record along: taken (running), back in the queue
// between attempts, and finished. Pure functions of the record, the message and the attempt,
// so what GET /system/calls/<id> shows at each step is unit-tested.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "call_message.h"
#include "call_record.h"
#include "outcome.h"

namespace faas::queue_worker {

using Clock = std::chrono::system_clock;

/// The record to update: the stored one when there is one (it keeps the gateway's queued_at,
/// callback and keep_result), else a queued record made from the message (the gateway could
/// not write it, or it expired).
queue::CallRecord current_record(const queue::CallMessage& message,
                                 const std::optional<queue::CallRecord>& stored);

/// Attempt number `attempt` starts now.
queue::CallRecord mark_running(queue::CallRecord record, int attempt, Clock::time_point now);

/// What one attempt got back.
struct AttemptResult {
    int status = kNoAnswer;
    double duration_seconds = 0;
    std::string_view body;  ///< Viewed: copied into the record only when it is kept.
};

/// The attempt failed and will be tried again: queued, with its status and duration.
queue::CallRecord mark_retrying(queue::CallRecord record, const AttemptResult& attempt);

/// The call's final state (`outcome` is not kRetry). The body is kept when the record asks for
/// it and it fits in kMaxKeptResultBytes; otherwise result_truncated says it did not.
queue::CallRecord mark_finished(queue::CallRecord record, const Outcome& outcome,
                                const AttemptResult& attempt, Clock::time_point now);

}  // namespace faas::queue_worker
