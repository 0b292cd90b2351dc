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
};

}  // namespace faas::gateway
