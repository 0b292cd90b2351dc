// The streams and the bucket of asynchronous calls, made from these same definitions by the
// gateway and by every queue worker (whichever starts first creates them; ensuring again with
// the same definitions changes nothing, so they never undo one another).
#pragma once

#include <chrono>

#include "jetstream.h"

namespace faas::queue {

/// How long a retried call id is recognised and stored once (the stream's duplicate window).
inline constexpr std::chrono::minutes kDuplicateWindow{2};
/// How long a dead letter is kept for someone to look at it.
inline constexpr std::chrono::hours kDeadLetterMaxAge{24 * 7};

/// faas-calls: work-queue retention (a call is gone once acknowledged), file storage, subjects
/// faas.calls.>, duplicate window kDuplicateWindow.
StreamConfig call_stream_config();
/// faas-dead-letters: limits retention, file storage, subjects faas.dead.>, kept 7 days.
StreamConfig dead_letter_stream_config();

/// Creates or updates both streams and the record bucket (values expire after `record_ttl`;
/// set it the same everywhere). Returns the bucket. Throws QueueUnavailable, QueueError.
KeyValue ensure_queue(JetStream& jetstream, std::chrono::milliseconds record_ttl);

}  // namespace faas::queue
