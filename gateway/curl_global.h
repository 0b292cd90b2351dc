// libcurl's process-wide initialisation, done once for every user of libcurl in the gateway
// (the function proxy and the Docker Engine API client).
#pragma once

namespace faas::gateway {

/// Calls curl_global_init the first time; throws std::runtime_error if it fails.
void ensure_curl_initialised();

}  // namespace faas::gateway
