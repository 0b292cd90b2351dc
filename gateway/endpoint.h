// What the call path needs of a provider: where a function's ready replicas are. Kept apart
// from the provider interface so the proxy and the front door need neither it nor JSON.
#pragma once

#include <string>
#include <vector>

namespace faas::gateway {

/// A replica ready to take requests.
struct Endpoint {
    std::string host;
    int port = 0;
};

/// What the hot path asks: does the function exist, and where are its ready replicas.
struct Resolution {
    bool exists = false;
    std::vector<Endpoint> ready;
    /// Replicas started and reachable but not yet known to be ready: a call held for the
    /// function's first replica probes these itself rather than wait for the provider's next
    /// health check. Filled only when `ready` is empty: no copy on the hot path.
    std::vector<Endpoint> starting;
};

}  // namespace faas::gateway
