// The call message's format: a compact JSON head line, '\n', the raw body. Both directions
// check the same rules, so whatever decode() accepts encodes again to the same message.
#include "call_message.h"

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "time_format.h"

namespace faas::queue {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr int kVersion = 1;

bool is_identifier_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool is_identifier(std::string_view text, std::size_t max_bytes) {
    if (text.empty() || text.size() > max_bytes) return false;
    for (char c : text)
        if (!is_identifier_char(c)) return false;
    return true;
}

/// RFC 9110 tchar: what a method and a header name are made of.
bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        if (is_identifier_char(c)) continue;
        if (std::string_view("!#$%&'*+.^`|~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

/// Visible ASCII, no space: what a request target and a URL are made of.
bool is_visible_ascii(std::string_view text) {
    for (char c : text)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

/// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as JSON needs.
bool is_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        unsigned char low = 0x80, high = 0xbf;  // Bounds of the byte after the lead byte.
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0) low = 0xa0;
            if (c == 0xed) high = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0) low = 0x90;
            if (c == 0xf4) high = 0x8f;
        } else {
            return false;
        }
        if (i + extra >= text.size()) return false;  // Cut short.
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xbf)) return false;
        }
        i += extra + 1;
    }
    return true;
}

/// A field value: any UTF-8 text without control characters other than HTAB (a CR or LF
/// would let a stored header inject others when the worker replays the call).
bool is_header_value(std::string_view text) {
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
    }
    return is_utf8(text);
}

bool is_function_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxFunctionBytes) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    return true;
}

[[noreturn]] void bad(const std::string& why) {
    throw BadMessage("call message: " + why);
}

/// Every rule a message obeys, for encode() and decode() alike.
void check(const CallMessage& m) {
    if (!is_valid_call_id(m.call_id)) bad("call id must be 1 to 128 of A-Z a-z 0-9 - _");
    if (!is_function_name(m.function)) bad("function must be 1 to 128 of a-z 0-9 - .");
    if (!is_token(m.method) || m.method.size() > 32) bad("method is not an HTTP method");
    if (m.path.size() > kMaxPathBytes) bad("path is longer than 8 KiB");
    if (!m.path.empty() && m.path.front() != '/') bad("path must be empty or start with '/'");
    if (!is_visible_ascii(m.path) || m.path.find_first_of("?#") != std::string::npos)
        bad("path has a character a request target cannot");
    if (m.query.size() > kMaxQueryBytes) bad("query is longer than 8 KiB");
    if (!is_visible_ascii(m.query) || m.query.find('#') != std::string::npos)
        bad("query has a character a request target cannot");
    if (m.headers.size() > kMaxHeaders) bad("more than 100 headers");
    std::size_t header_bytes = 0;
    for (const auto& [name, value] : m.headers) {
        if (!is_token(name) || name.size() > kMaxHeaderNameBytes)
            bad("header name is not a token of at most 256 bytes");
        if (value.size() > kMaxHeaderValueBytes) bad("header " + name + " is longer than 16 KiB");
        if (!is_header_value(value))
            bad("header " + name + " has a control character or is not UTF-8");
        header_bytes += name.size() + value.size();
    }
    if (header_bytes > kMaxHeaderBytes) bad("headers are larger than 64 KiB together");
    if (m.callback_url) {
        const std::string& url = *m.callback_url;
        if (url.size() > kMaxCallbackUrlBytes) bad("callback URL is longer than 2 KiB");
        if (!(url.starts_with("http://") || url.starts_with("https://")) || !is_visible_ascii(url))
            bad("callback URL must be an http:// or https:// URL");
    }
    if (!is_valid_queue_name(m.queue)) bad("queue must be 1 to 64 of A-Z a-z 0-9 - _");
}

/// The one spelling of enqueued_at; a time it cannot spell (before 1970, after 2261) is refused.
std::string time_text(std::chrono::system_clock::time_point time) {
    std::string text = rfc3339_nano(time);
    if (parse_rfc3339(text) != time) bad("enqueued_at is out of range");
    return text;
}

/// Refuses repeated keys (which value would count?) and nesting deeper than the format's.
class HeadParseGuard {
  public:
    bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
        if (depth > 3) bad("head nests deeper than the format");
        switch (event) {
            case Json::parse_event_t::object_start:
                keys_.emplace_back();
                break;
            case Json::parse_event_t::object_end:
                if (!keys_.empty()) keys_.pop_back();
                break;
            case Json::parse_event_t::key:
                if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second)
                    bad("head repeats the key \"" + parsed.get<std::string>() + "\"");
                break;
            default:
                break;
        }
        return true;
    }

  private:
    std::vector<std::set<std::string>> keys_;
};

const Json& field(const Json& head, const char* name) {
    auto it = head.find(name);
    if (it == head.end()) bad(std::string("head has no \"") + name + "\"");
    return *it;
}

std::string string_field(const Json& head, const char* name) {
    const Json& value = field(head, name);
    if (!value.is_string()) bad(std::string("\"") + name + "\" is not a string");
    return value.get<std::string>();
}

}  // namespace

bool is_valid_call_id(std::string_view id) {
    return is_identifier(id, kMaxCallIdBytes);
}

bool is_valid_queue_name(std::string_view name) {
    return is_identifier(name, kMaxQueueNameBytes);
}

std::string encode(const CallMessage& m) {
    check(m);
    OrderedJson head;
    head["v"] = kVersion;
    head["id"] = m.call_id;
    head["function"] = m.function;
    head["method"] = m.method;
    head["path"] = m.path;
    head["query"] = m.query;
    OrderedJson headers = OrderedJson::array();
    for (const auto& [name, value] : m.headers)
        headers.push_back(OrderedJson::array({name, value}));
    head["headers"] = std::move(headers);
    if (m.callback_url) head["callback_url"] = *m.callback_url;
    head["queue"] = m.queue;
    head["enqueued_at"] = time_text(m.enqueued_at);
    head["keep_result"] = m.keep_result;
    head["body_bytes"] = m.body.size();
    std::string out = head.dump();  // Compact: no raw newline, since strings escape theirs.
    out.reserve(out.size() + 1 + m.body.size());
    out += '\n';
    out += m.body;
    return out;
}

CallMessage decode(std::string_view bytes, std::size_t max_body_bytes) {
    const std::size_t newline = bytes.substr(0, kMaxHeadBytes + 1).find('\n');
    if (newline == std::string_view::npos)
        bad(bytes.size() > kMaxHeadBytes ? "head is longer than the format allows"
                                         : "no head line");
    const std::string_view head_text = bytes.substr(0, newline);
    const std::string_view body = bytes.substr(newline + 1);
    if (body.size() > max_body_bytes)
        bad("body of " + std::to_string(body.size()) + " bytes is over the limit of " +
            std::to_string(max_body_bytes));

    Json head;
    try {
        head = Json::parse(head_text, HeadParseGuard());
    } catch (const Json::parse_error& e) {
        bad("head is not JSON (at byte " + std::to_string(e.byte) + ")");
    } catch (const Json::exception&) {
        bad("head has a number JSON cannot hold");  // 1e400: out_of_range, not a parse_error.
    }
    if (!head.is_object()) bad("head is not a JSON object");
    static const std::set<std::string> kKnown = {
        "v",       "id",           "function", "method",      "path",        "query",
        "headers", "callback_url", "queue",    "enqueued_at", "keep_result", "body_bytes"};
    for (const auto& item : head.items())
        if (!kKnown.count(item.key())) bad("head has an unknown key \"" + item.key() + "\"");
    const Json& version = field(head, "v");
    if (!version.is_number_integer() || version.get<std::int64_t>() != kVersion)
        bad("unknown version (this build reads version 1)");

    CallMessage m;
    m.call_id = string_field(head, "id");
    m.function = string_field(head, "function");
    m.method = string_field(head, "method");
    m.path = string_field(head, "path");
    m.query = string_field(head, "query");
    const Json& headers = field(head, "headers");
    if (!headers.is_array()) bad("\"headers\" is not an array");
    if (headers.size() > kMaxHeaders) bad("more than 100 headers");
    for (const Json& pair : headers) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
            bad("a header is not a [name, value] pair of strings");
        m.headers.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
    if (head.contains("callback_url")) m.callback_url = string_field(head, "callback_url");
    m.queue = string_field(head, "queue");
    const std::string enqueued_at = string_field(head, "enqueued_at");
    auto time = parse_rfc3339(enqueued_at);
    if (!time || rfc3339_nano(*time) != enqueued_at)
        bad("enqueued_at is not a UTC time like 2026-12-02T13:08:06.123456789Z");
    m.enqueued_at = *time;
    const Json& keep_result = field(head, "keep_result");
    if (!keep_result.is_boolean()) bad("\"keep_result\" is not true or false");
    m.keep_result = keep_result.get<bool>();
    const Json& body_bytes = field(head, "body_bytes");
    if (!body_bytes.is_number_unsigned() || body_bytes.get<std::uint64_t>() != body.size())
        bad("\"body_bytes\" does not match the body (truncated?)");
    m.body = std::string(body);
    check(m);
    return m;
}

}  // namespace faas::queue
