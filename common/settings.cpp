// Parsers for the setting formats shared by the gateway and the watchdog.
#include "settings.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

namespace faas {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view s) {
    if (!all_digits(s) || s.size() > 19) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : s) value = value * 10 + static_cast<std::uint64_t>(c - '0');
    return value;
}

// Nanoseconds per unit, for the units Go's time.ParseDuration accepts.
std::optional<double> unit_nanos(std::string_view unit) {
    if (unit == "ns") return 1.0;
    if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1e3;
    if (unit == "ms") return 1e6;
    if (unit == "s") return 1e9;
    if (unit == "m") return 60e9;
    if (unit == "h") return 3600e9;
    return std::nullopt;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    if (auto seconds = parse_unsigned(text)) {
        if (*seconds > 100LL * 365 * 24 * 3600) return std::nullopt;
        return std::chrono::seconds(*seconds);
    }
    if (text == "0") return std::chrono::nanoseconds(0);
    double total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        bool seen_digit = false;
        bool seen_dot = false;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                                   (text[i] == '.' && !seen_dot))) {
            if (text[i] == '.')
                seen_dot = true;
            else
                seen_digit = true;
            ++i;
        }
        if (!seen_digit) return std::nullopt;
        double number = std::stod(std::string(text.substr(start, i - start)));
        std::size_t unit_start = i;
        while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) &&
               text[i] != '.')
            ++i;
        auto per_unit = unit_nanos(text.substr(unit_start, i - unit_start));
        if (!per_unit) return std::nullopt;
        total += number * *per_unit;
    }
    if (!std::isfinite(total) || total > 100.0 * 365 * 24 * 3600 * 1e9) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
}

std::optional<bool> parse_bool(std::string_view text) {
    text = trim(text);
    if (text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" ||
        text == "True")
        return true;
    if (text == "0" || text == "f" || text == "F" || text == "false" || text == "FALSE" ||
        text == "False")
        return false;
    return std::nullopt;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    text = trim(text);
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    auto number = parse_unsigned(text.substr(0, digits));
    if (!number) return std::nullopt;
    std::string unit;
    for (char c : text.substr(digits))
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::uint64_t multiplier = 1;
    if (unit.empty() || unit == "b")
        multiplier = 1;
    else if (unit == "k" || unit == "ki" || unit == "kb" || unit == "kib")
        multiplier = 1ULL << 10;
    else if (unit == "m" || unit == "mi" || unit == "mb" || unit == "mib")
        multiplier = 1ULL << 20;
    else if (unit == "g" || unit == "gi" || unit == "gb" || unit == "gib")
        multiplier = 1ULL << 30;
    else
        return std::nullopt;
    if (*number > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
    return *number * multiplier;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    text = trim(text);
    bool negative = !text.empty() && text.front() == '-';
    if (negative) text.remove_prefix(1);
    auto value = parse_unsigned(text);
    if (!value || *value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    auto signed_value = static_cast<std::int64_t>(*value);
    return negative ? -signed_value : signed_value;
}

std::string get_string(const Env& env, const std::string& name, const std::string& fallback) {
    auto value = env.get(name);
    return value ? *value : fallback;
}

std::chrono::nanoseconds get_duration(const Env& env, const std::string& name,
                                      std::chrono::nanoseconds fallback) {
    auto value = env.get(name);
    if (!value || trim(*value).empty()) return fallback;
    auto parsed = parse_duration(*value);
    if (!parsed)
        throw ConfigError(name,
                          "cannot parse '" + *value +
                              "' as a duration (seconds as an integer, or e.g. 500ms, 5s, 1m)");
    return *parsed;
}

bool get_bool(const Env& env, const std::string& name, bool fallback) {
    auto value = env.get(name);
    if (!value || trim(*value).empty()) return fallback;
    auto parsed = parse_bool(*value);
    if (!parsed)
        throw ConfigError(name, "cannot parse '" + *value + "' as a boolean (true or false)");
    return *parsed;
}

std::uint64_t get_byte_size(const Env& env, const std::string& name, std::uint64_t fallback) {
    auto value = env.get(name);
    if (!value || trim(*value).empty()) return fallback;
    auto parsed = parse_byte_size(*value);
    if (!parsed)
        throw ConfigError(
            name, "cannot parse '" + *value + "' as a size in bytes (e.g. 1048576, 512k, 16Mi)");
    return *parsed;
}

std::int64_t get_int(const Env& env, const std::string& name, std::int64_t fallback,
                     std::int64_t min, std::int64_t max) {
    auto value = env.get(name);
    if (!value || trim(*value).empty()) return fallback;
    auto parsed = parse_int(*value);
    if (!parsed) throw ConfigError(name, "cannot parse '" + *value + "' as an integer");
    if (*parsed < min || *parsed > max) {
        std::ostringstream message;
        message << "value " << *parsed << " is out of range " << min << ".." << max;
        throw ConfigError(name, message.str());
    }
    return *parsed;
}

int get_port(const Env& env, const std::string& name, int fallback) {
    return static_cast<int>(get_int(env, name, fallback, 0, 65535));
}

std::string format_duration(std::chrono::nanoseconds d) {
    std::ostringstream out;
    out << static_cast<double>(d.count()) / 1e9 << "s";
    return out.str();
}

}  // namespace faas
