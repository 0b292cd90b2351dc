// One libcurl easy handle per call to a replica: pooled, set up for a call and read back after
// it. The asynchronous proxy (async_proxy.h) drives them on the event loops.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "endpoint.h"
#include "http/message.h"
#include "memory_budget.h"

namespace faas::gateway {

struct ProxyRequest {
    std::string_view method;
    std::string_view path;  ///< Upstream path and query, as the client wrote them.
    HeaderViews headers;    ///< Already free of hop-by-hop headers.
    std::string_view body;  ///< Must outlive the call.
};

enum class ProxyOutcome {
    kOk,
    kRefused,     ///< Never connected (refused, or the connect timed out): nothing was sent,
                  ///< so another replica may be tried.
    kTimeout,     ///< upstream_timeout passed: 504.
    kFailed,      ///< Anything else after the connection was made: 502.
    kTooLarge,    ///< The response passed max_response_bytes: 502.
    kOverBudget,  ///< The gateway's memory budget for buffered bodies ran out: 503.
};

struct ProxyResult {
    ProxyOutcome outcome = ProxyOutcome::kFailed;
    std::string error;
    int status = 0;
    HeaderList headers;
    std::string body;
    Reservation reservation;  ///< The body's bytes, counted against the budget.
};

struct ProxyOptions {
    std::chrono::nanoseconds timeout = std::chrono::seconds(60);
    std::chrono::nanoseconds connect_timeout = std::chrono::seconds(2);
    std::uint64_t max_response_bytes = 64ULL << 20;
    /// Idle handles kept for reuse; more are freed on release.
    std::size_t max_idle_handles = 512;
    /// A handle unused this long is freed: its connections are past CURLOPT_MAXAGE_CONN (3 s)
    /// and would not be reused anyway, so after a burst the pool shrinks back to the load.
    std::chrono::nanoseconds idle_handle_lifetime = std::chrono::seconds(10);
    /// Response bodies count against it as they arrive (optional).
    MemoryBudget* budget = nullptr;
};

/// One libcurl easy handle with its buffers, reused across calls (defined in proxy.cpp).
struct CurlHandle;
struct CurlHandleDeleter {
    void operator()(CurlHandle* handle) const;
};
using CurlHandlePtr = std::unique_ptr<CurlHandle, CurlHandleDeleter>;

/// Idle easy handles, warmest first. A reused handle keeps its options and buffers. One per
/// event loop, used only on its thread.
class HandlePool {
  public:
    explicit HandlePool(ProxyOptions options);
    ~HandlePool();
    HandlePool(const HandlePool&) = delete;
    HandlePool& operator=(const HandlePool&) = delete;

    CurlHandlePtr acquire();
    void release(CurlHandlePtr handle);
    std::size_t idle();

  private:
    const ProxyOptions options_;
    /// LIFO: the warmest connection goes first, and the coldest sit at the front.
    std::deque<CurlHandlePtr> idle_;
};

/// The easy handle inside `handle`, for curl_multi_add_handle and friends.
void* easy_handle(CurlHandle& handle);
/// Sets `handle` up to send `request` to `endpoint`; the answer is written into `result`.
/// `request` and `result` must outlive the transfer.
void prepare_call(CurlHandle& handle, const Endpoint& endpoint, const ProxyRequest& request,
                  ProxyResult& result);
/// Records how the transfer ended (`curl_code` is a CURLcode) in the result given to
/// prepare_call, and detaches the handle from the call so it can go back to its pool.
void complete_call(CurlHandle& handle, int curl_code);

}  // namespace faas::gateway
