// The event loop's request parser.
#include "request_head.h"

#include <cstring>

#include "http_server.h"

namespace faas::gateway {
namespace {

bool is_target(std::string_view text) {
    if (text.empty() || text.front() != '/') return false;
    for (unsigned char c : text)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

std::string_view trim_blanks(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool parse_length(std::string_view text, std::uint64_t& out) {
    if (text.empty() || text.size() > 18) return false;  // 18 digits cannot overflow
    std::uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = value;
    return true;
}

bool names_close(std::string_view connection) {
    std::size_t start = 0;
    while (start <= connection.size()) {
        auto end = connection.find(',', start);
        if (end == std::string_view::npos) end = connection.size();
        if (iequals(trim_blanks(connection.substr(start, end - start)), "close")) return true;
        start = end + 1;
    }
    return false;
}

enum class LineStatus { kLine, kIncomplete, kTooLarge, kBareLf };

// Finds the CRLF ending the line that starts at `from`; `end` is the index of its CR.
LineStatus find_line(std::string_view buffer, std::size_t from, std::size_t max_bytes,
                     std::size_t& end) {
    const auto lf = buffer.find('\n', from);
    if (lf == std::string_view::npos)
        return buffer.size() > max_bytes ? LineStatus::kTooLarge : LineStatus::kIncomplete;
    if (lf + 1 > max_bytes) return LineStatus::kTooLarge;
    // A line ended by LF alone is legal for lenient parsers only: not the simple case.
    if (lf == from || buffer[lf - 1] != '\r') return LineStatus::kBareLf;
    end = lf - 1;
    return LineStatus::kLine;
}

HeadStatus verdict(LineStatus status) {
    switch (status) {
        case LineStatus::kIncomplete:
            return HeadStatus::kIncomplete;
        case LineStatus::kTooLarge:
            return HeadStatus::kTooLarge;
        default:
            return HeadStatus::kHandOff;
    }
}

}  // namespace

std::string_view RequestHead::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

HeadStatus parse_request_head(std::string_view buffer, const HeadLimits& limits,
                              RequestHead& head) {
    head.headers.clear();
    head.content_length = 0;
    head.keep_alive = true;
    head.head_bytes = 0;

    // The request line. RFC 9112 lets servers skip empty lines before it; httplib does not,
    // so neither do we (a stray CRLF after a body is handed off and answered there).
    std::size_t line_end = 0;
    if (auto found = find_line(buffer, 0, limits.max_head_bytes, line_end);
        found != LineStatus::kLine)
        return verdict(found);
    const std::string_view line = buffer.substr(0, line_end);
    const auto first_space = line.find(' ');
    const auto last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space)
        return HeadStatus::kHandOff;
    head.method = line.substr(0, first_space);
    head.target = line.substr(first_space + 1, last_space - first_space - 1);
    if (line.substr(last_space + 1) != "HTTP/1.1" || !is_token(head.method) ||
        !is_target(head.target))
        return HeadStatus::kHandOff;

    bool seen_length = false;
    std::size_t at = line_end + 2;
    while (true) {
        std::size_t end = 0;
        if (auto found = find_line(buffer, at, limits.max_head_bytes, end);
            found != LineStatus::kLine)
            return verdict(found);
        if (end == at) {  // the blank line
            head.head_bytes = end + 2;
            return HeadStatus::kComplete;
        }
        const std::string_view field = buffer.substr(at, end - at);
        at = end + 2;
        if (head.headers.size() == limits.max_headers) return HeadStatus::kHandOff;
        const auto colon = field.find(':');
        if (colon == std::string_view::npos) return HeadStatus::kHandOff;
        const std::string_view name = field.substr(0, colon);
        const std::string_view raw_value = field.substr(colon + 1);
        // A line starting with a blank (obs-fold) has no token name and is handed off here.
        if (!is_token(name) || !is_field_value(raw_value)) return HeadStatus::kHandOff;
        const std::string_view value = trim_blanks(raw_value);
        switch (name.size()) {
            case 6:
                if (iequals(name, "Expect")) return HeadStatus::kHandOff;
                break;
            case 7:
                if (iequals(name, "Upgrade")) return HeadStatus::kHandOff;
                break;
            case 10:
                if (iequals(name, "Connection") && names_close(value)) head.keep_alive = false;
                break;
            case 14:
                if (iequals(name, "Content-Length")) {
                    if (seen_length || !parse_length(value, head.content_length))
                        return HeadStatus::kHandOff;
                    seen_length = true;
                }
                break;
            case 17:
                if (iequals(name, "Transfer-Encoding")) return HeadStatus::kHandOff;
                break;
            default:
                break;
        }
        head.headers.emplace_back(name, value);
    }
}

}  // namespace faas::gateway
