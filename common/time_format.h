// RFC 3339 timestamps, as OpenFaaS writes them: createdAt (seconds) and log lines
// (nanoseconds), and the parser for a log query's `since`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace faas {

/// Now, in UTC to the second: "2026-12-02T13:08:06Z".
std::string rfc3339_now();

/// `time` in UTC with nanoseconds: "2026-12-02T13:08:06.123456789Z".
std::string rfc3339_nano(std::chrono::system_clock::time_point time);

/// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; nullopt for anything else or a
/// year outside 1970..2261 (the clock's range).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace faas
