// Human output and duration parsing.
#include "output.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <limits>
#include <ostream>
#include <stdexcept>

namespace faas::cli {
namespace {

/// Characters a terminal shows for UTF-8 `text`: continuation bytes do not count.
size_t display_width(std::string_view text) {
    size_t width = 0;
    for (unsigned char c : text)
        if ((c & 0xC0) != 0x80) ++width;
    return width;
}

void print_row(std::ostream& out, const std::vector<std::string>& cells,
               const std::vector<size_t>& widths) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
        const std::string& cell = i < cells.size() ? cells[i] : std::string();
        line += cell;
        if (i + 1 < widths.size()) line.append(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
    if (cells.size() > headers_.size()) throw std::invalid_argument("table row has too many cells");
    cells.resize(headers_.size());
    rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
    std::vector<size_t> widths(headers_.size());
    for (size_t i = 0; i < headers_.size(); ++i) widths[i] = display_width(headers_[i]);
    for (const auto& row : rows_)
        for (size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    print_row(out, headers_, widths);
    for (const auto& row : rows_) print_row(out, row, widths);
}

std::string human_duration(std::chrono::seconds duration) {
    long long s = std::max<long long>(0, duration.count());
    struct Unit {
        long long seconds;
        const char* suffix;
    };
    static constexpr Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    for (size_t i = 0; i < std::size(kUnits); ++i) {
        const long long big = s / kUnits[i].seconds;
        if (big == 0 && kUnits[i].seconds != 1) continue;
        std::string text = std::to_string(big) + kUnits[i].suffix;
        if (i + 1 < std::size(kUnits)) {
            const long long small = (s % kUnits[i].seconds) / kUnits[i + 1].seconds;
            if (small != 0) text += std::to_string(small) + kUnits[i + 1].suffix;
        }
        return text;
    }
    return "0s";
}

std::string human_size(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    if (value < 10 && std::floor(value * 10) != std::floor(value) * 10)
        std::snprintf(text, sizeof text, "%.1f %s", std::floor(value * 10) / 10, kUnits[unit]);
    else
        std::snprintf(text, sizeof text, "%.0f %s", std::floor(value), kUnits[unit]);
    return text;
}

std::string human_time(std::chrono::system_clock::time_point time,
                       std::chrono::system_clock::time_point now) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - time);
    if (age.count() < 0) return std::string(text) + " (in the future)";
    return std::string(text) + " (" + human_duration(age) + " ago)";
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    const bool plain = text.find_first_not_of("0123456789") == std::string_view::npos;
    constexpr long long kMax = std::numeric_limits<long long>::max() / 1000;
    long long total_ms = 0;
    size_t at = 0;
    while (at < text.size()) {
        long long number = 0;
        const size_t digits_from = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (number > kMax / 10) return std::nullopt;
            number = number * 10 + (text[at] - '0');
            ++at;
        }
        if (at == digits_from) return std::nullopt;
        long long unit_ms = 1000;  // a plain number is seconds
        if (!plain) {
            if (text.substr(at, 2) == "ms") {
                unit_ms = 1;
                at += 2;
            } else if (at < text.size() &&
                       (text[at] == 's' || text[at] == 'm' || text[at] == 'h')) {
                unit_ms = text[at] == 's' ? 1000 : text[at] == 'm' ? 60'000 : 3'600'000;
                ++at;
            } else {
                return std::nullopt;
            }
        }
        if (number > (kMax - total_ms) / unit_ms) return std::nullopt;
        total_ms += number * unit_ms;
    }
    return std::chrono::milliseconds(total_ms);
}

void print_json(std::ostream& out, const nlohmann::json& value) {
    out << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

long long json_count(const nlohmann::json& value) {
    if (value.is_number_integer()) return value.get<long long>();
    if (value.is_number_float()) {
        const double d = value.get<double>();
        if (!std::isfinite(d) || d < 0 || d > 9e18) return 0;
        return static_cast<long long>(std::llround(d));
    }
    return 0;
}

}  // namespace faas::cli
