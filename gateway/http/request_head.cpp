// The gateway's request parser.
#include "http/request_head.h"

#include "http_text.h"

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

enum class LineStatus { kLine, kIncomplete, kTooLong, kBareLf };

// Finds the CRLF ending the line that starts at `from`, within `max_end` bytes of the buffer;
// `end` is the index of its CR.
LineStatus find_line(std::string_view buffer, std::size_t from, std::size_t max_end,
                     std::size_t& end) {
    const auto lf = buffer.find('\n', from);
    if (lf == std::string_view::npos)
        return buffer.size() > max_end ? LineStatus::kTooLong : LineStatus::kIncomplete;
    if (lf + 1 > max_end) return LineStatus::kTooLong;
    if (lf == from || buffer[lf - 1] != '\r') return LineStatus::kBareLf;
    end = lf - 1;
    return LineStatus::kLine;
}

HeadStatus refuse(Refusal& refusal, int status, std::string_view reason) {
    refusal.status = status;
    refusal.reason = reason;
    return HeadStatus::kRefused;
}

}  // namespace

std::string_view RequestHead::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

HeadStatus parse_request_head(std::string_view buffer, const HeadLimits& limits, RequestHead& head,
                              Refusal& refusal) {
    head.headers.clear();
    head.content_length = 0;
    head.framing = BodyFraming::kNone;
    head.keep_alive = true;
    head.expect_continue = false;
    head.head_bytes = 0;

    // The request line.
    std::size_t line_end = 0;
    switch (find_line(buffer, 0, limits.max_request_line + 2, line_end)) {
        case LineStatus::kIncomplete:
            return HeadStatus::kIncomplete;
        case LineStatus::kTooLong:
            return refuse(refusal, 414, "Request line too long.");
        case LineStatus::kBareLf:
            return refuse(refusal, 400, "Malformed request line.");
        case LineStatus::kLine:
            break;
    }
    const std::string_view line = buffer.substr(0, line_end);
    const auto first_space = line.find(' ');
    const auto last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space)
        return refuse(refusal, 400, "Malformed request line.");
    head.method = line.substr(0, first_space);
    head.target = line.substr(first_space + 1, last_space - first_space - 1);
    const std::string_view version = line.substr(last_space + 1);
    if (!is_token(head.method) || !is_target(head.target))
        return refuse(refusal, 400, "Malformed request line.");
    if (version == "HTTP/1.1") {
        head.minor_version = 1;
    } else if (version == "HTTP/1.0") {
        head.minor_version = 0;
        head.keep_alive = false;
    } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
               version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
        return refuse(refusal, 505, "Only HTTP/1.0 and HTTP/1.1 are served.");
    } else {
        return refuse(refusal, 400, "Malformed request line.");
    }

    bool seen_length = false;
    int transfer_encodings = 0;
    int hosts = 0;
    std::string_view connection;
    std::size_t at = line_end + 2;
    while (true) {
        std::size_t end = 0;
        switch (find_line(buffer, at, limits.max_head_bytes, end)) {
            case LineStatus::kIncomplete:
                return HeadStatus::kIncomplete;
            case LineStatus::kTooLong:
                return refuse(refusal, 431, "Request header fields too large.");
            case LineStatus::kBareLf:
                return refuse(refusal, 400, "Malformed header line.");
            case LineStatus::kLine:
                break;
        }
        if (end == at) {  // the blank line
            head.head_bytes = end + 2;
            break;
        }
        const std::string_view field = buffer.substr(at, end - at);
        at = end + 2;
        if (head.headers.size() == limits.max_headers)
            return refuse(refusal, 431, "Too many header fields.");
        const auto colon = field.find(':');
        if (colon == std::string_view::npos) return refuse(refusal, 400, "Malformed header line.");
        const std::string_view name = field.substr(0, colon);
        const std::string_view raw_value = field.substr(colon + 1);
        // A blank before the colon, or a line starting with one (obs-fold), is not a token.
        if (!is_token(name)) return refuse(refusal, 400, "Malformed header name.");
        if (!is_field_value(raw_value)) return refuse(refusal, 400, "Malformed header value.");
        const std::string_view value = trim_blanks(raw_value);
        switch (name.size()) {
            case 4:
                if (iequals(name, "Host")) ++hosts;
                break;
            case 6:
                if (iequals(name, "Expect")) {
                    if (!iequals(value, "100-continue"))
                        return refuse(refusal, 417, "Only Expect: 100-continue is supported.");
                    head.expect_continue = true;
                }
                break;
            case 10:
                if (iequals(name, "Connection")) connection = value;
                break;
            case 14:
                if (iequals(name, "Content-Length")) {
                    std::uint64_t length = 0;
                    if (!parse_length(value, length) ||
                        (seen_length && length != head.content_length))
                        return refuse(refusal, 400, "Invalid or conflicting Content-Length.");
                    head.content_length = length;
                    seen_length = true;
                }
                break;
            case 17:
                if (iequals(name, "Transfer-Encoding")) {
                    if (++transfer_encodings > 1 || !iequals(value, "chunked"))
                        return refuse(refusal, 400, "Only Transfer-Encoding: chunked is served.");
                }
                break;
            default:
                break;
        }
        head.headers.emplace_back(name, value);
    }

    if (transfer_encodings > 0 && (seen_length || head.minor_version == 0))
        return refuse(refusal, 400, "Ambiguous request framing.");
    if (hosts > 1 || (hosts == 0 && head.minor_version == 1))
        return refuse(refusal, 400, "Exactly one Host header is required.");
    if (transfer_encodings > 0)
        head.framing = BodyFraming::kChunked;
    else if (head.content_length > 0)
        head.framing = BodyFraming::kLength;
    if (!connection.empty()) {
        if (has_token(connection, "close"))
            head.keep_alive = false;
        else if (head.minor_version == 0 && has_token(connection, "keep-alive"))
            head.keep_alive = true;
    }
    return HeadStatus::kComplete;
}

}  // namespace faas::gateway
