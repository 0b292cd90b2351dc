// One HTTP exchange at a time over a libcurl easy handle: the call to the gateway and the
// callback. One client per worker thread, so its connections to the gateway are kept alive
// between calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "call_message.h"

namespace faas::queue_worker {

struct HttpRequest {
    std::string method;
    std::string url;
    queue::HeaderList headers;  ///< Sent as given; curl adds Host and Content-Length only.
    std::string_view body;      ///< Must outlive send().
    std::chrono::milliseconds timeout{30000};  ///< Connect to last byte.
};

struct HttpResponse {
    /// 0 when no answer came (refused, reset, timed out before the whole answer).
    int status = 0;
    queue::HeaderList headers;  ///< Of the final answer (not of a 100 Continue).
    std::string body;
    /// Why there is no answer, or why it was cut short; "" when all went well.
    std::string error;
    /// The answer had a status but its body passed the client's limit (it was dropped).
    bool too_large = false;
    double duration_seconds = 0;
};

class HttpClient {
  public:
    /// Answers with bodies over `max_response_bytes` are cut short (too_large).
    explicit HttpClient(std::uint64_t max_response_bytes);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Never throws for a network failure: that is status 0 with the reason in `error`.
    HttpResponse send(const HttpRequest& request);

    struct Handle;  ///< The easy handle and what its callbacks fill (http_client.cpp).

  private:
    std::unique_ptr<Handle> handle_;
};

}  // namespace faas::queue_worker
