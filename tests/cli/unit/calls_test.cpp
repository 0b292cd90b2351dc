// Asynchronous calls without a gateway: the headers `invoke --async` sends, what it checks before
// sending, the query of `calls list`, and how records read in `calls get` and `calls list`.
#include "calls.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "app.h"
#include "base64.h"
#include "cli_error.h"
#include "context.h"
#include "time_format.h"

namespace faas::cli {
namespace {

using nlohmann::json;

/// `words` parsed with the flags the command `name` really takes (and the global ones).
ParsedArgs parse_for(std::string_view name, std::vector<std::string> words) {
    const auto table = commands();
    const auto command =
        std::find_if(table.begin(), table.end(), [&](const Command& c) { return c.name == name; });
    REQUIRE(command != table.end());
    std::vector<FlagSpec> specs(command->flags.begin(), command->flags.end());
    const auto globals = global_flags();
    specs.insert(specs.end(), globals.begin(), globals.end());
    return parse_args(words, specs);
}

/// Every value of header `name` (any case) in `headers`.
std::vector<std::string> header_values(const HeaderList& headers, std::string_view name) {
    std::vector<std::string> found;
    for (const auto& [key, value] : headers)
        if (std::equal(key.begin(), key.end(), name.begin(), name.end(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            found.push_back(value);
    return found;
}

std::chrono::system_clock::time_point at(const char* text) {
    const auto time = parse_rfc3339(text);
    REQUIRE(time);
    return *time;
}

json succeeded_record() {
    return {{"callId", "c-1"},
            {"function", "echo"},
            {"queue", "faas-request"},
            {"status", "succeeded"},
            {"attempts", 2},
            {"statusCode", 200},
            {"durationSeconds", 0.0126},
            {"queuedAt", "2026-03-01T10:00:00.5Z"},
            {"startedAt", "2026-03-01T10:00:01Z"},
            {"finishedAt", "2026-03-01T10:00:03Z"},
            {"keepResult", true},
            {"callbackUrl", "http://127.0.0.1:9000/done"},
            {"result", base64_encode("hello later")}};
}

std::string summary(const json& record) {
    std::ostringstream out;
    print_call(out, record, at("2026-03-01T10:01:00Z"));
    return out.str();
}

}  // namespace

TEST_CASE("invoke --async headers: the flags set X-Callback-Url, X-Call-Id, X-Keep-Result") {
    const HeaderList from_h = {{"x-callback-url", "http://old.example/x"},
                               {"X-Other", "1"},
                               {"Content-Type", "text/plain"}};
    const auto headers = async_call_headers(
        from_h,
        parse_for("invoke", {"echo", "--async", "--callback-url", "http://127.0.0.1:9000/done",
                             "--call-id", "order-42_a", "--keep-result"}));
    CHECK(header_values(headers, "X-Callback-Url") ==
          std::vector<std::string>{"http://127.0.0.1:9000/done"});
    CHECK(header_values(headers, "X-Call-Id") == std::vector<std::string>{"order-42_a"});
    CHECK(header_values(headers, "X-Keep-Result") == std::vector<std::string>{"true"});
    CHECK(header_values(headers, "X-Other") == std::vector<std::string>{"1"});
    CHECK(header_values(headers, "Content-Type") == std::vector<std::string>{"text/plain"});

    // faas-cli's way, -H X-Callback-Url=..., still works; nothing is added without the flags.
    const HeaderList openfaas_style = {{"X-Callback-Url", "https://hooks.example/done?x=1"}};
    const auto kept = async_call_headers(openfaas_style, parse_for("invoke", {"echo", "-a"}));
    CHECK(kept == openfaas_style);
    CHECK(async_call_headers({}, parse_for("invoke", {"echo", "-a"})).empty());
}

TEST_CASE("invoke --async checks the callback URL and the call id before sending") {
    CHECK(is_callback_url("http://127.0.0.1:9000/done"));
    CHECK(is_callback_url("https://hooks.example"));
    CHECK_FALSE(is_callback_url("ftp://127.0.0.1/x"));
    CHECK_FALSE(is_callback_url("/relative"));
    CHECK_FALSE(is_callback_url("127.0.0.1:9000/done"));
    CHECK_FALSE(is_callback_url("http://"));
    CHECK_FALSE(is_callback_url("http:///path"));
    CHECK_FALSE(is_callback_url("http://a b/"));
    CHECK_FALSE(is_callback_url("http://host/\n"));
    CHECK_FALSE(is_callback_url("http://host/" + std::string(2048, 'x')));

    CHECK(is_call_id("a"));
    CHECK(is_call_id("ABC-def_123"));
    CHECK(is_call_id(std::string(128, 'x')));
    CHECK_FALSE(is_call_id(""));
    CHECK_FALSE(is_call_id(std::string(129, 'x')));
    CHECK_FALSE(is_call_id("has space"));
    CHECK_FALSE(is_call_id("a.b"));

    CHECK_THROWS_WITH_AS(
        async_call_headers({}, parse_for("invoke", {"f", "-a", "--callback-url", "ftp://x/y"})),
        "--callback-url takes an absolute http:// or https:// URL, not 'ftp://x/y'", UsageError);
    CHECK_THROWS_WITH_AS(async_call_headers({{"X-Callback-Url", "localhost:9000"}},
                                            parse_for("invoke", {"f", "-a"})),
                         "the X-Callback-Url header takes an absolute http:// or https:// URL, "
                         "not 'localhost:9000'",
                         UsageError);
    CHECK_THROWS_WITH_AS(
        async_call_headers({}, parse_for("invoke", {"f", "-a", "--call-id", "a/b"})),
        "--call-id takes 1 to 128 of A-Z a-z 0-9 - _, not 'a/b'", UsageError);
    CHECK_THROWS_AS(
        async_call_headers({{"x-call-id", "no spaces"}}, parse_for("invoke", {"f", "-a"})),
        UsageError);
}

TEST_CASE("calls list query: only the flags given, status and limit checked") {
    CHECK(calls_list_query(parse_for("calls list", {})) == "");
    CHECK(calls_list_query(parse_for(
              "calls list", {"--function", "echo", "--status", "dead-lettered", "--limit", "5"})) ==
          "?function=echo&status=dead-lettered&limit=5");
    CHECK(calls_list_query(parse_for("calls list", {"--status=queued", "-n", "openfaas-fn"})) ==
          "?status=queued&namespace=openfaas-fn");
    CHECK_THROWS_WITH_AS(calls_list_query(parse_for("calls list", {"--status", "done"})),
                         "--status takes one of queued, running, succeeded, failed, "
                         "dead-lettered, cancelled, not 'done'",
                         UsageError);
    for (const char* limit : {"0", "1001", "x", "-1", "99999"}) {
        CAPTURE(limit);
        CHECK_THROWS_AS(calls_list_query(parse_for("calls list", {"--limit", limit})), UsageError);
    }
}

TEST_CASE("calls get: a record reads as a summary, the kept result after it") {
    CHECK(summary(succeeded_record()) ==
          "Call ID:      c-1\n"
          "Function:     echo\n"
          "Queue:        faas-request\n"
          "Status:       succeeded\n"
          "Attempts:     2\n"
          "Status Code:  200\n"
          "Duration:     0.013s\n"
          "Queued:       2026-03-01 10:00:00 UTC (59s ago)\n"
          "Started:      2026-03-01 10:00:01 UTC (59s ago)\n"
          "Finished:     2026-03-01 10:00:03 UTC (57s ago)\n"
          "Callback URL: http://127.0.0.1:9000/done\n"
          "Result:       11 B\n"
          "hello later\n");

    json queued = {{"callId", "c-2"},         {"function", "echo"},
                   {"queue", "faas-request"}, {"status", "queued"},
                   {"attempts", 0},           {"statusCode", 0},
                   {"durationSeconds", 0},    {"startedAt", nullptr},
                   {"finishedAt", nullptr},   {"queuedAt", "2026-03-01T10:00:30Z"},
                   {"keepResult", false}};
    const std::string waiting = summary(queued);
    CHECK(waiting.find("Status Code:  -\nDuration:     -\n") != std::string::npos);
    CHECK(waiting.find("Started:      -\nFinished:     -\n") != std::string::npos);
    CHECK(waiting.find("Callback URL") == std::string::npos);
    CHECK(waiting.find("Result:       not kept (invoke --async --keep-result keeps it)\n") !=
          std::string::npos);
}

TEST_CASE("calls get: why there is no result, the error, binary bodies left to --json") {
    json record = succeeded_record();
    record.erase("result");
    record["status"] = "running";
    CHECK(summary(record).ends_with("Result:       kept when the call ends\n"));

    record["status"] = "dead-lettered";
    record["statusCode"] = 503;
    record["error"] = "503 after 10 attempts";
    const std::string dead = summary(record);
    CHECK(dead.find("Status Code:  503\n") != std::string::npos);
    CHECK(dead.find("Error:        503 after 10 attempts\n") != std::string::npos);
    CHECK(dead.ends_with("Result:       none\n"));

    record["resultTruncated"] = true;
    CHECK(summary(record).ends_with(
        "Result:       not kept: larger than the gateway keeps (256 KiB)\n"));

    json binary = succeeded_record();
    binary["result"] = base64_encode(std::string("\x1b[2J\0\xff", 6));
    CHECK(
        summary(binary).ends_with("Result:       6 B of binary data (--json has it in base64)\n"));

    json utf8 = succeeded_record();
    utf8["result"] = base64_encode("h\xc3\xa9llo\n");
    CHECK(summary(utf8).ends_with("Result:       7 B\nh\xc3\xa9llo\n"));
}

TEST_CASE("calls list: a row per call, a dash for what has not happened yet") {
    json queued = {{"callId", "c-2"},
                   {"function", "slow"},
                   {"status", "queued"},
                   {"attempts", 0},
                   {"statusCode", 0},
                   {"durationSeconds", 0},
                   {"queuedAt", "2026-03-01T10:00:30Z"}};
    json failed = succeeded_record();
    failed["status"] = "failed";
    failed["statusCode"] = 500;
    failed["durationSeconds"] = 12.25;
    failed["error"] = "line one\nline two";
    json sync = succeeded_record();
    sync["callId"] = "c-0";
    sync["sync"] = true;
    sync["attempts"] = 1;
    sync["durationSeconds"] = 0.5;
    std::ostringstream out;
    calls_table(json::array({queued, failed, sync, "not an object"}), at("2026-03-01T10:01:00Z"))
        .print(out);
    CHECK(out.str() ==
          "Call ID  Function  Kind   Status     Attempts  Code  Duration  Age  Error\n"
          "c-2      slow      async  queued     0         -     -         30s\n"
          "c-1      echo      async  failed     2         500   12.2s     59s  line one line two\n"
          "c-0      echo      sync   succeeded  1         200   0.500s    59s\n");

    std::ostringstream empty;
    calls_table(json::array()).print(empty);
    CHECK(empty.str() == "Call ID  Function  Kind  Status  Attempts  Code  Duration  Age  Error\n");
}

}  // namespace faas::cli
