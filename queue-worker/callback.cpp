// Sending callbacks.
#include "callback.h"

#include <charconv>

#include "http_text.h"

namespace faas::queue_worker {
namespace {

bool is_callback_header(std::string_view name) {
    return iequals(name, "X-Call-Id") || iequals(name, "X-Function-Status") ||
           iequals(name, "X-Function-Name") || iequals(name, "X-Duration-Seconds");
}

std::string fixed6(double seconds) {
    char text[32];
    auto end = std::to_chars(text, text + sizeof text, seconds, std::chars_format::fixed, 6).ptr;
    return std::string(text, end);
}

}  // namespace

HttpRequest callback_request(const queue::CallMessage& message, int function_status,
                             const queue::HeaderList& function_headers, std::string_view body,
                             double duration_seconds) {
    HttpRequest request;
    request.method = "POST";
    request.url = message.callback_url.value_or("");
    request.body = body;
    request.timeout = kCallbackTimeout;
    for (const auto& [name, value] : function_headers) {
        if (is_hop_by_hop(name) || iequals(name, "Content-Length") || iequals(name, "Host") ||
            is_callback_header(name))
            continue;
        request.headers.emplace_back(name, value);
    }
    request.headers.emplace_back("X-Call-Id", message.call_id);
    request.headers.emplace_back("X-Function-Status", std::to_string(function_status));
    request.headers.emplace_back("X-Function-Name", message.function);
    request.headers.emplace_back("X-Duration-Seconds", fixed6(duration_seconds));
    return request;
}

bool callback_should_retry(int status) {
    return status == 0 || status >= 500;
}

CallbackResult deliver_callback(HttpClient& client, const HttpRequest& request, int max_attempts,
                                const queue::RetryPolicy& waits, const StopFlag& stop) {
    CallbackResult result;
    while (true) {
        ++result.attempts;
        HttpResponse answer = client.send(request);
        result.status = answer.status;
        result.error = answer.error;
        if (!callback_should_retry(answer.status)) {
            result.delivered = answer.status < 400;
            return result;
        }
        if (result.attempts >= max_attempts) return result;
        if (stop.wait_for(queue::backoff(waits, result.attempts))) {
            result.interrupted = true;
            return result;
        }
    }
}

}  // namespace faas::queue_worker
