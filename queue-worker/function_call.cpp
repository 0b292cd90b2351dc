// Turning a queued call back into an HTTP request.
#include "function_call.h"

#include "http_text.h"
#include "queue_names.h"

namespace faas::queue_worker {

HttpRequest function_request(const queue::CallMessage& message, const std::string& gateway_url,
                             std::chrono::milliseconds timeout) {
    HttpRequest request;
    request.method = message.method;
    request.url = gateway_url + "/function/" + message.function + message.path;
    if (!message.query.empty()) request.url += "?" + message.query;
    request.body = message.body;
    request.timeout = timeout;

    std::string connection;  // The tokens of every Connection header.
    for (const auto& [name, value] : message.headers)
        if (iequals(name, "Connection")) connection += value + ",";
    for (const auto& [name, value] : message.headers) {
        if (is_hop_by_hop(name) || iequals(name, "Host") || iequals(name, "Content-Length") ||
            iequals(name, "Expect") || iequals(name, "X-Call-Id") || has_token(connection, name))
            continue;
        request.headers.emplace_back(name, value);
    }
    request.headers.emplace_back("X-Call-Id", message.call_id);
    request.headers.emplace_back(queue::kQueuedCallHeader, "true");
    return request;
}

}  // namespace faas::queue_worker
