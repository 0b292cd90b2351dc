// Base64 (RFC 4648), standard and URL-safe alphabets: secrets' rawValue, registry auth,
// basic auth and the watchdog's marshalled requests all use this one copy.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace faas {

/// Encodes with '=' padding; `url_safe` uses '-' and '_' instead of '+' and '/'.
std::string base64_encode(std::string_view data, bool url_safe = false);

/// Decodes the standard alphabet; padding is optional. nullopt for any other character or an
/// impossible length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace faas
