// One curl_global_init for the whole gateway.
#include "curl_global.h"

#include <curl/curl.h>

#include <stdexcept>

namespace faas::gateway {

void ensure_curl_initialised() {
    // A function-local static: initialised once, thread-safely, before the first transfer.
    static const bool initialised = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("curl_global_init failed");
        return true;
    }();
    (void)initialised;
}

}  // namespace faas::gateway
