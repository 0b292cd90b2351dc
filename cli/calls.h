// Asynchronous calls as the CLI sees them: the headers `invoke --async` sends, the query of
// `calls list`, and how a call record (GET /system/calls/<id>) reads to a person. Apart from the
// commands so that tests check them without a gateway.
#pragma once

#include <array>
#include <chrono>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "args.h"
#include "gateway_client.h"
#include "output.h"

namespace faas::cli {

/// A call's statuses, in the order a call goes through them (the gateway's queue/call_record.h).
inline constexpr std::array<std::string_view, 6> kCallStatuses = {
    "queued", "running", "succeeded", "failed", "dead-lettered", "cancelled"};

/// What the gateway takes as X-Callback-Url: an absolute http:// or https:// URL with a host, no
/// blanks or control characters, at most 2 KiB.
bool is_callback_url(std::string_view url);

/// What the gateway takes as X-Call-Id: 1 to 128 of A-Z a-z 0-9 '-' '_'.
bool is_call_id(std::string_view id);

/// The headers of `invoke --async`: `headers` (from -H) with --callback-url, --call-id and
/// --keep-result set over any -H of the same name, and the callback URL and call id checked
/// whichever way they came. Throws UsageError naming the flag or header at fault.
HeaderList async_call_headers(HeaderList headers, const ParsedArgs& args);

/// "?function=F&status=S&limit=N&namespace=NS" from `calls list`'s flags (only those given), or
/// "". Throws UsageError for an unknown status or a limit outside 1..1000.
std::string calls_list_query(const ParsedArgs& args);

/// The summary `calls get` prints: one "Key:  value" line per field, times relative to `now`,
/// and the kept result's body after it when it is text.
void print_call(std::ostream& out, const nlohmann::json& record,
                std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// The table `calls list` prints, a row per record (anything that is not an object skipped).
Table calls_table(const nlohmann::json& records,
                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace faas::cli
