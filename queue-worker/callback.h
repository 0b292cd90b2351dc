// The callback: the function's answer POSTed to the caller's X-Callback-Url, tried again with
// back-off while the receiver gives no answer or a 5xx, a bounded number of times.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "call_message.h"
#include "http_client.h"
#include "retry_policy.h"
#include "stop_flag.h"

namespace faas::queue_worker {

/// One callback attempt's deadline.
inline constexpr std::chrono::seconds kCallbackTimeout{30};

/// POST <callback_url> with the function's answer: its body, its headers (less hop-by-hop ones,
/// Content-Length, Host and the four below), and X-Call-Id, X-Function-Status, X-Function-Name
/// and X-Duration-Seconds (six decimals, as the gateway writes it). `body` must outlive the
/// request. The message must have a callback URL.
HttpRequest callback_request(const queue::CallMessage& message, int function_status,
                             const queue::HeaderList& function_headers, std::string_view body,
                             double duration_seconds);

/// Whether a callback answered with `status` (0: no answer) is worth another attempt.
bool callback_should_retry(int status);

struct CallbackResult {
    bool delivered = false;    ///< The receiver answered with a status below 500.
    bool interrupted = false;  ///< A stop came during a wait between attempts.
    int attempts = 0;
    int status = 0;     ///< The last attempt's answer; 0 for none.
    std::string error;  ///< Why the last attempt got no answer.
};

/// Sends `request` up to `max_attempts` times, waiting backoff(waits, n) after attempt n fails,
/// until it is delivered or a 4xx says the receiver will never take it. A stop during a wait
/// ends it at once (interrupted).
CallbackResult deliver_callback(HttpClient& client, const HttpRequest& request, int max_attempts,
                                const queue::RetryPolicy& waits, const StopFlag& stop);

}  // namespace faas::queue_worker
