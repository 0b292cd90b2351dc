// The text rules of HTTP/1.1 that the gateway's parser, its proxy and the watchdog share:
// tokens, field values, comma-separated lists, the hop-by-hop header set and reason phrases.
// One copy, so the gateway and the watchdog cannot disagree about what a header means.
#pragma once

#include <string_view>

namespace faas {

/// Case-insensitive comparison of HTTP field names (ASCII only: std::tolower would consult the
/// locale for every character).
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

/// An RFC 9110 token (a method or a field name): one or more of A-Z a-z 0-9 !#$%&'*+-.^_`|~
bool is_token(std::string_view text);

/// A field value without control characters other than tab (CR, LF and NUL among them).
bool is_field_value(std::string_view text);

/// Whether the comma-separated list `list` ("keep-alive, Upgrade") holds `token`, compared
/// without case and without the blanks around each element.
bool has_token(std::string_view list, std::string_view token);

/// The RFC 9110 7.6.1 hop-by-hop headers: Connection, Keep-Alive, Proxy-Connection, TE,
/// Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization. A proxy never
/// forwards them (nor the headers a Connection header names).
bool is_hop_by_hop(std::string_view name);

/// The reason phrase of `status` ("Not Found"); "Unknown" for a code it does not know.
std::string_view reason_phrase(int status);

}  // namespace faas
