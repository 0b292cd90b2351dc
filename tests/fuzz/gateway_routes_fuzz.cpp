// Fuzz target: what a client controls on the gateway's invoke path and in front of the admin
// API: the request target (/function/<name>[.<namespace>][/<path>][?<query>]), the X-Function
// name, an Alexa skill body, the Authorization header and the logs API's `since`.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth.h"
#include "base64.h"
#include "function_types.h"
#include "names.h"
#include "routes.h"
#include "time_format.h"

namespace {

using namespace faas::gateway;

// A name that got through must be one the grammar allows: nothing else reaches a lookup.
void check_name(const ParsedName& parsed, std::string_view served) {
    if (!parsed.ref) return;
    if (!is_valid_name(parsed.ref->name)) __builtin_trap();
    if (!parsed.ref->namespace_.empty() && parsed.ref->namespace_ != served) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string_view served = "openfaas-fn";

    if (auto route = parse_function_target(text, served)) {
        check_name(route->name, served);
        if (route->upstream_path.empty() || route->upstream_path.front() != '/') __builtin_trap();
        if (route->upstream_path.size() > text.size() + 1) __builtin_trap();
    }
    if (auto route = parse_function_target("/function/" + text, served))
        check_name(route->name, served);
    check_name(parse_function_name(text, served), served);
    if (is_valid_name(text) && (text.size() > 63 || text.find('/') != std::string::npos))
        __builtin_trap();
    if (is_valid_secret_name(text) &&
        (text.find('/') != std::string::npos || text.find("..") != std::string::npos))
        __builtin_trap();
    (void)find_route("GET", text);

    if (auto intent = alexa_intent_name(text))
        check_name(parse_function_name(*intent, served), served);

    if (auto decoded = faas::base64_decode(text); decoded && decoded->size() > text.size())
        __builtin_trap();
    BasicAuth auth("admin", "secret");
    if (auth.allows(text) && text.find("YWRtaW46c2VjcmV0") == std::string::npos) __builtin_trap();

    (void)faas::parse_rfc3339(text);
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "/function/echo",
        "/function/echo.openfaas-fn/a/b%20c?x=1&y=2",
        "/function/echo?x=1",
        "/function/%2e%2e/etc/passwd",
        "/function/a..b/",
        "/function/echo.other-ns",
        "/function/ECHO/",
        "echo.openfaas-fn",
        R"({"request":{"type":"IntentRequest","intent":{"name":"echo"}}})",
        R"({"request":{"intent":{"name":"../x"}}})",
        "Basic YWRtaW46c2VjcmV0",
        "basic YWRtaW46c2VjcmV0==",
        "Bearer abc",
        "2026-11-21T10:30:51.123456789Z",
        "2026-11-21T10:30:51+02:00",
    };
}
