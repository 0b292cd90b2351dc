// Fuzz target: every setting parser, fed untrusted text (settings come from image authors and
// deployers, and the gateway passes envVars through to the watchdog).
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "settings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    if (auto d = faas::parse_duration(text); d && d->count() < 0) __builtin_trap();
    faas::parse_bool(text);
    faas::parse_byte_size(text);
    faas::parse_int(text);
    auto words = faas::watchdog::split_command(text);
    for (const auto& w : words)
        if (w.size() > text.size()) __builtin_trap();
    try {
        auto address = faas::watchdog::parse_upstream_url("upstream_url", text);
        if (address.port < 1 || address.port > 65535 || address.host.empty()) __builtin_trap();
    } catch (const faas::ConfigError&) {
    }
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {"30",
            "500ms",
            "1m30s",
            "1.5h",
            "-5s",
            "16Mi",
            "true",
            "sh -c 'exit 3'",
            "echo \"a b\"c",
            "http://127.0.0.1:8082/api",
            "http://[::1]:80",
            "http://host:99999",
            "0x10",
            "99999999999999999999"};
}
