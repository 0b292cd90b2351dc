// Human output: aligned tables, durations, sizes and times a person reads at a glance; JSON for
// scripts; and the one parser for durations given on the command line (--timeout, --since).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faas::cli {

/// Columns padded to their widest cell (counted in characters, not bytes), two spaces apart, the
/// last column unpadded so lines carry no trailing blanks.
class Table {
  public:
    explicit Table(std::vector<std::string> headers);
    /// A row; missing cells are empty, extra cells are an error (std::invalid_argument).
    void add_row(std::vector<std::string> cells);
    void print(std::ostream& out) const;
    size_t rows() const { return rows_.size(); }

  private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// "45s", "12m", "3h5m", "2d4h": the two largest units; negative durations count as 0.
std::string human_duration(std::chrono::seconds duration);

/// "512 B", "1.5 KiB", "64 MiB" (binary units, one decimal below 10).
std::string human_size(std::uint64_t bytes);

/// "2026-12-02 13:08:06 UTC (5m ago)", relative to `now`.
std::string human_time(
    std::chrono::system_clock::time_point time,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Parses "90", "90s", "2m", "1h30m", "500ms" (Go's units up to h; a plain number is seconds).
/// nullopt for anything else, a negative value or an overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Pretty JSON with a final newline.
void print_json(std::ostream& out, const nlohmann::json& value);

/// A whole number from a JSON number (or 0 for anything else): counts the API sends as floats.
long long json_count(const nlohmann::json& value);

}  // namespace faas::cli
