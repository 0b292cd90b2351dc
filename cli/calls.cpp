// Asynchronous calls: headers, the list query, and records for people.
#include "calls.h"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "base64.h"
#include "cli_error.h"
#include "commands/gateway_access.h"
#include "http_text.h"
#include "time_format.h"

namespace faas::cli {
namespace {

using nlohmann::json;

/// The gateway's bound on X-Callback-Url (queue/call_message.h).
constexpr size_t kMaxCallbackUrlBytes = 2 << 10;
constexpr size_t kMaxCallIdBytes = 128;
/// The error column of `calls list` is cut here; `calls get` shows it whole.
constexpr size_t kMaxErrorColumn = 60;

std::string string_field(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// Replaces (or adds) the header `name`: one value, whichever case -H spelt it in.
void set_header(HeaderList& headers, std::string_view name, std::string value) {
    std::erase_if(headers, [&](const auto& header) { return iequals(header.first, name); });
    headers.emplace_back(std::string(name), std::move(value));
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
        if (iequals(it->first, name)) return &it->second;
    return nullptr;
}

std::string statuses_text() {
    std::string text;
    for (const auto status : kCallStatuses) {
        if (!text.empty()) text += ", ";
        text += status;
    }
    return text;
}

/// "0.012s" under ten seconds, "42.5s" above: a function's time is usually short.
std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, seconds < 10 ? "%.3fs" : "%.1fs", std::max(0.0, seconds));
    return text;
}

std::string time_text(const json& record, const char* key,
                      std::chrono::system_clock::time_point now) {
    const std::string text = string_field(record, key);
    if (text.empty()) return "-";
    const auto time = parse_rfc3339(text);
    return time ? human_time(*time, now) : text;
}

bool is_final(std::string_view status) {
    return status != "queued" && status != "running";
}

/// Valid UTF-8 without control characters other than tab, newline and carriage return: safe to
/// print on a terminal as it is.
bool is_text(std::string_view body) {
    size_t i = 0;
    while (i < body.size()) {
        const auto c = static_cast<unsigned char>(body[i]);
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
            ++i;
            continue;
        }
        // Lead bytes of 2, 3 and 4 byte sequences; C1 controls (U+0080..U+009F) are refused.
        size_t length = 0;
        if (c >= 0xC2 && c <= 0xDF)
            length = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            length = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            length = 4;
        if (length == 0 || i + length > body.size()) return false;
        if (c == 0xC2 && static_cast<unsigned char>(body[i + 1]) < 0xA0) return false;
        for (size_t k = 1; k < length; ++k)
            if ((static_cast<unsigned char>(body[i + k]) & 0xC0) != 0x80) return false;
        i += length;
    }
    return true;
}

void print_entry(std::ostream& out, const std::string& key, const std::string& value) {
    std::string label = key + ":";
    label.resize(std::max<size_t>(14, label.size() + 1), ' ');
    out << label << value << '\n';
}

std::string one_line(std::string text, size_t limit) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
    return text;
}

}  // namespace

bool is_callback_url(std::string_view url) {
    if (url.size() > kMaxCallbackUrlBytes) return false;
    std::string_view rest;
    if (url.starts_with("http://"))
        rest = url.substr(7);
    else if (url.starts_with("https://"))
        rest = url.substr(8);
    else
        return false;
    if (rest.empty() || rest[0] == '/' || rest[0] == ':' || rest[0] == '?' || rest[0] == '#')
        return false;
    return std::none_of(url.begin(), url.end(),
                        [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

bool is_call_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxCallIdBytes) return false;
    return std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

HeaderList async_call_headers(HeaderList headers, const ParsedArgs& args) {
    if (auto url = args.value("callback-url")) {
        if (!is_callback_url(*url))
            throw UsageError("--callback-url takes an absolute http:// or https:// URL, not '" +
                             *url + "'");
        set_header(headers, "X-Callback-Url", *url);
    } else if (const auto* header = find_header(headers, "X-Callback-Url")) {
        if (!is_callback_url(*header))
            throw UsageError(
                "the X-Callback-Url header takes an absolute http:// or https:// "
                "URL, not '" +
                *header + "'");
        set_header(headers, "X-Callback-Url", *header);
    }
    if (auto id = args.value("call-id")) {
        if (!is_call_id(*id))
            throw UsageError("--call-id takes 1 to 128 of A-Z a-z 0-9 - _, not '" + *id + "'");
        set_header(headers, "X-Call-Id", *id);
    } else if (const auto* header = find_header(headers, "X-Call-Id")) {
        if (!is_call_id(*header))
            throw UsageError("the X-Call-Id header takes 1 to 128 of A-Z a-z 0-9 - _, not '" +
                             *header + "'");
        set_header(headers, "X-Call-Id", *header);
    }
    if (args.flag("keep-result")) set_header(headers, "X-Keep-Result", "true");
    return headers;
}

std::string calls_list_query(const ParsedArgs& args) {
    std::string query;
    auto add = [&](const std::string& key, const std::string& value) {
        query += (query.empty() ? "?" : "&") + key + "=" + percent_encode(value);
    };
    if (auto function = args.value("function"); function && !function->empty())
        add("function", *function);
    if (auto status = args.value("status"); status && !status->empty()) {
        if (std::find(kCallStatuses.begin(), kCallStatuses.end(), *status) == kCallStatuses.end())
            throw UsageError("--status takes one of " + statuses_text() + ", not '" + *status +
                             "'");
        add("status", *status);
    }
    if (auto limit = args.number("limit", 1, 1000)) add("limit", std::to_string(*limit));
    if (auto ns = args.value("namespace"); ns && !ns->empty()) add("namespace", *ns);
    return query;
}

void print_call(std::ostream& out, const json& record, std::chrono::system_clock::time_point now) {
    const std::string status = string_field(record, "status");
    const long long attempts = json_count(record.value("attempts", json()));
    const long long code = json_count(record.value("statusCode", json()));
    print_entry(out, "Call ID", string_field(record, "callId"));
    print_entry(out, "Function", string_field(record, "function"));
    const bool sync = record.value("sync", false) == true;
    print_entry(out, "Queue", sync ? "none: a synchronous call" : string_field(record, "queue"));
    print_entry(out, "Status", status);
    print_entry(out, "Attempts", std::to_string(attempts));
    print_entry(out, "Status Code", code == 0 ? "-" : std::to_string(code));
    const auto seconds = record.find("durationSeconds");
    print_entry(out, "Duration",
                attempts > 0 && seconds != record.end() && seconds->is_number()
                    ? seconds_text(seconds->get<double>())
                    : "-");
    print_entry(out, "Queued", time_text(record, "queuedAt", now));
    print_entry(out, "Started", time_text(record, "startedAt", now));
    print_entry(out, "Finished", time_text(record, "finishedAt", now));
    if (const auto url = string_field(record, "callbackUrl"); !url.empty())
        print_entry(out, "Callback URL", url);
    if (const auto error = string_field(record, "error"); !error.empty())
        print_entry(out, "Error", error);

    if (record.value("resultTruncated", false) == true) {
        print_entry(out, "Result", "not kept: larger than the gateway keeps (256 KiB)");
        return;
    }
    if (!record.contains("result")) {
        if (sync)
            print_entry(out, "Result", "not kept for synchronous calls");
        else if (record.value("keepResult", false) != true)
            print_entry(out, "Result", "not kept (invoke --async --keep-result keeps it)");
        else if (!is_final(status))
            print_entry(out, "Result", "kept when the call ends");
        else
            print_entry(out, "Result", "none");
        return;
    }
    const auto body = base64_decode(string_field(record, "result"));
    if (!body) {
        print_entry(out, "Result", "not readable (not base64)");
        return;
    }
    if (!is_text(*body)) {
        print_entry(out, "Result",
                    human_size(body->size()) +
                        " of binary data (--json has it "
                        "in base64)");
        return;
    }
    print_entry(out, "Result", human_size(body->size()));
    out << *body;
    if (!body->empty() && body->back() != '\n') out << '\n';
}

Table calls_table(const json& records, std::chrono::system_clock::time_point now) {
    Table table(
        {"Call ID", "Function", "Kind", "Status", "Attempts", "Code", "Duration", "Age", "Error"});
    if (!records.is_array()) return table;
    for (const auto& record : records) {
        if (!record.is_object()) continue;
        const long long attempts = json_count(record.value("attempts", json()));
        const long long code = json_count(record.value("statusCode", json()));
        const auto seconds = record.find("durationSeconds");
        const auto queued = parse_rfc3339(string_field(record, "queuedAt"));
        table.add_row(
            {string_field(record, "callId"), string_field(record, "function"),
             record.value("sync", false) == true ? "sync" : "async", string_field(record, "status"),
             std::to_string(attempts), code == 0 ? "-" : std::to_string(code),
             attempts > 0 && seconds != record.end() && seconds->is_number()
                 ? seconds_text(seconds->get<double>())
                 : "-",
             queued
                 ? human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *queued))
                 : "",
             one_line(string_field(record, "error"), kMaxErrorColumn)});
    }
    return table;
}

}  // namespace faas::cli
