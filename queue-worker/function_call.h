// The call a queued message stands for, made to the function through the gateway (so its
// metrics, load balancing and scaling from zero hold), as the client would have made it.
#pragma once

#include <chrono>
#include <string>

#include "call_message.h"
#include "http_client.h"

namespace faas::queue_worker {

/// `method <gateway_url>/function/<function><path>[?<query>]` with the message's body and its
/// headers, less those that were for the client's hop only (hop-by-hop ones and those its
/// Connection names, Host, Content-Length, Expect) and its X-Call-Id, plus X-Call-Id: the
/// message's. `message` must outlive the request (the body is viewed, not copied).
HttpRequest function_request(const queue::CallMessage& message, const std::string& gateway_url,
                             std::chrono::milliseconds timeout);

}  // namespace faas::queue_worker
