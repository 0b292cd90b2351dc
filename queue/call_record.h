// An asynchronous call's record: where it is (queued, running, succeeded, failed,
// dead-lettered, cancelled), its attempts, status code and timings, and the function's answer
// when the caller asked to keep it. The gateway writes it when it stores the call, the queue
// worker as the call goes on; both through the key-value bucket named in queue_names.h, keyed by
// call id. With record_calls=all the gateway records synchronous calls too, in a bucket of
// their own. JSON, as GET /system/calls/<id> shows it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace faas::queue {

enum class CallState { kQueued, kRunning, kSucceeded, kFailed, kDeadLettered, kCancelled };

/// "queued", "running", "succeeded", "failed", "dead-lettered", "cancelled".
std::string_view state_name(CallState state);
std::optional<CallState> parse_state(std::string_view name);
/// No later change is allowed: succeeded, failed, dead-lettered and cancelled.
bool is_final(CallState state);

struct CallRecord {
    std::string call_id;
    std::string function;
    std::string queue;
    CallState state = CallState::kQueued;
    int attempts = 0;             ///< Calls made to the function so far.
    int status_code = 0;          ///< The last attempt's answer; 0 before any.
    double duration_seconds = 0;  ///< The last attempt's.
    std::string error;            ///< One line when failed or dead-lettered.
    std::chrono::system_clock::time_point queued_at;
    std::optional<std::chrono::system_clock::time_point> started_at;   ///< First attempt.
    std::optional<std::chrono::system_clock::time_point> finished_at;  ///< Final state.
    std::optional<std::string> callback_url;
    bool keep_result = false;
    /// The function's body, when keep_result and at most kMaxKeptResultBytes (else truncated
    /// is set and it is left out).
    std::optional<std::string> result;
    bool result_truncated = false;
    /// A synchronous call, recorded by the gateway as it answered (record_calls=all): one
    /// attempt, no queue, no callback.
    bool sync = false;

    bool operator==(const CallRecord&) const = default;
};

/// Bodies kept in a record at most (X-Keep-Result): a bucket value stays well under NATS's
/// max_payload.
inline constexpr std::size_t kMaxKeptResultBytes = 256 << 10;

/// The record as JSON text (the body, if kept, base64 in "result").
std::string to_json(const CallRecord& record);
/// Parses what to_json wrote. Throws std::invalid_argument for anything else.
CallRecord record_from_json(std::string_view text);

}  // namespace faas::queue
