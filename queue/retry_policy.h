// When the queue worker tries a call again: which statuses, how many attempts, and the
// exponential back-off between them; read from the worker's settings.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "env.h"

namespace faas::queue {

struct RetryPolicy {
    int max_attempts = 10;  ///< Attempts in all, the first included (1: never retry).
    std::chrono::milliseconds initial_wait{1000};
    std::chrono::milliseconds max_wait{30000};
    std::set<int> retry_statuses{429, 502, 503, 504};
};

/// The wait after attempt number `attempt` failed: initial_wait after the first, doubling each
/// time, never more than max_wait. An attempt below 1 counts as the first.
std::chrono::milliseconds backoff(const RetryPolicy& policy, int attempt);

/// Whether a call whose attempt number `attempt` answered `status` gets another attempt.
bool should_retry(const RetryPolicy& policy, int status, int attempt);

/// "429,502,503,504" (spaces around items allowed) as a set of HTTP statuses 100..599. Throws
/// faas::ConfigError naming `variable` for an empty list, an empty item or a bad number.
std::set<int> parse_status_codes(const std::string& variable, std::string_view text);

/// The policy from max_retry_attempts (1..1000), initial_retry_wait and max_retry_wait
/// (durations, 0 < initial <= max <= 1h) and retry_http_codes; unset or blank settings keep
/// the defaults above. Throws faas::ConfigError for a bad one.
RetryPolicy read_retry_policy(const Env& env);

}  // namespace faas::queue
