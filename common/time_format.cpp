// RFC 3339 formatting and parsing.
#include "time_format.h"

#include <cstdio>
#include <ctime>

namespace faas {

std::string rfc3339_now() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::string rfc3339_nano(std::chrono::system_clock::time_point time) {
    auto since_epoch = time.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
    std::time_t t = seconds.count();
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char text[64];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%09lldZ", static_cast<long long>(nanos.count()));
    return text;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    std::string copy(text);
    int consumed = 0;
    if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                    &second, &consumed) != 6)
        return std::nullopt;
    // Past 2261 nanoseconds since the epoch overflow the clock's 64 bits.
    if (year < 1970 || year > 2261) return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    std::string_view rest = std::string_view(copy).substr(static_cast<std::size_t>(consumed));
    long long nanos = 0;
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        int digits = 0;
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            if (digits < 9) {
                nanos = nanos * 10 + (rest.front() - '0');
                ++digits;
            }
            rest.remove_prefix(1);
        }
        while (digits++ < 9) nanos *= 10;
    }
    long offset_seconds = 0;
    if (rest == "Z" || rest == "z") {
        offset_seconds = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        int oh = 0, om = 0;
        if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2)
            return std::nullopt;
        offset_seconds = (oh * 3600L + om * 60L) * (rest[0] == '+' ? 1 : -1);
    } else {
        return std::nullopt;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    std::time_t t = ::timegm(&tm);
    return std::chrono::system_clock::time_point(std::chrono::seconds(t - offset_seconds)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               std::chrono::nanoseconds(nanos));
}

}  // namespace faas
