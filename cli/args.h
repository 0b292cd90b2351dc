// Command-line flags: each command declares the flags it takes; parse_args checks the words
// against them, so an unknown or misspelt flag is an error instead of a silently ignored word.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace faas::cli {

struct FlagSpec {
    std::string_view name;     ///< Long name without dashes: "gateway" for --gateway.
    char short_name = 0;       ///< 'g' for -g; 0 for none.
    bool takes_value = false;  ///< --name VALUE or --name=VALUE; else a boolean switch.
    bool repeatable = false;   ///< May be given more than once (-e A=1 -e B=2).
    std::string_view help;     ///< One line for --help; names the value: "URL of the gateway".
};

class ParsedArgs {
  public:
    /// Was the flag given (a switch, or a value flag with any value)?
    bool has(std::string_view name) const;
    /// The value of a value flag (its last, if repeatable), or nullopt.
    std::optional<std::string> value(std::string_view name) const;
    /// Every value of a repeatable flag, in order.
    std::vector<std::string> values(std::string_view name) const;
    /// A switch's value: --flag, --flag=true or --flag=false.
    bool flag(std::string_view name) const;
    /// A value flag that must be a whole number from `min` to `max` (at most 9 digits), or
    /// nullopt when not given. Throws UsageError naming the flag and the range.
    std::optional<int> number(std::string_view name, int min, int max) const;
    /// Words that are not flags, after the command's own words.
    const std::vector<std::string>& positionals() const { return positionals_; }

    void add(std::string_view name, std::string value) {
        values_[std::string(name)].push_back(std::move(value));
    }
    void add_positional(std::string word) { positionals_.push_back(std::move(word)); }

  private:
    std::map<std::string, std::vector<std::string>, std::less<>> values_;
    std::vector<std::string> positionals_;
};

/// Parses `words` (the command line after the command's name) against `specs`. "--" ends the
/// flags. Throws UsageError for an unknown flag, a missing value, or a non-repeatable flag given
/// twice.
ParsedArgs parse_args(std::span<const std::string> words, std::span<const FlagSpec> specs);

}  // namespace faas::cli
