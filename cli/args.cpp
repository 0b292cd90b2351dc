// Flag parsing against each command's declared flags.
#include "args.h"

#include <algorithm>

#include "cli_error.h"

namespace faas::cli {

bool ParsedArgs::has(std::string_view name) const {
    return values_.find(name) != values_.end();
}

std::optional<std::string> ParsedArgs::value(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> ParsedArgs::values(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool ParsedArgs::flag(std::string_view name) const {
    auto it = values_.find(name);
    return it != values_.end() && !it->second.empty() && it->second.back() != "false";
}

std::optional<int> ParsedArgs::number(std::string_view name, int min, int max) const {
    auto text = value(name);
    if (!text) return std::nullopt;
    const bool digits = !text->empty() && text->size() <= 9 &&
                        text->find_first_not_of("0123456789") == std::string::npos;
    const int parsed = digits ? std::stoi(*text) : -1;
    if (!digits || parsed < min || parsed > max)
        throw UsageError("--" + std::string(name) + " takes a number from " + std::to_string(min) +
                         " to " + std::to_string(max) + ", not '" + *text + "'");
    return parsed;
}

namespace {

const FlagSpec* find_long(std::span<const FlagSpec> specs, std::string_view name) {
    auto it =
        std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
    return it == specs.end() ? nullptr : &*it;
}

const FlagSpec* find_short(std::span<const FlagSpec> specs, char name) {
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&](const FlagSpec& s) { return s.short_name == name; });
    return it == specs.end() ? nullptr : &*it;
}

}  // namespace

ParsedArgs parse_args(std::span<const std::string> words, std::span<const FlagSpec> specs) {
    ParsedArgs parsed;
    bool flags_ended = false;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (flags_ended || word.size() < 2 || word[0] != '-') {
            parsed.add_positional(word);
            continue;
        }
        if (word == "--") {
            flags_ended = true;
            continue;
        }
        // --name, --name=value, -x, -x value, -xvalue
        const FlagSpec* spec = nullptr;
        std::optional<std::string> inline_value;
        std::string shown;
        if (word.starts_with("--")) {
            const auto eq = word.find('=');
            const std::string name =
                word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            if (eq != std::string::npos) inline_value = word.substr(eq + 1);
            spec = find_long(specs, name);
            shown = "--" + name;
        } else {
            spec = find_short(specs, word[1]);
            if (word.size() > 2) inline_value = word.substr(word[2] == '=' ? 3 : 2);
            shown = word.substr(0, 2);
        }
        if (!spec) throw UsageError("unknown flag " + shown);
        if (!spec->repeatable && parsed.has(spec->name)) throw UsageError(shown + " given twice");
        if (!spec->takes_value) {
            if (inline_value && *inline_value != "true" && *inline_value != "false")
                throw UsageError(shown + " takes no value (or =true/=false), got '" +
                                 *inline_value + "'");
            parsed.add(spec->name, inline_value.value_or("true"));
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= words.size()) throw UsageError(shown + " needs a value");
            inline_value = words[++i];
        }
        parsed.add(spec->name, std::move(*inline_value));
    }
    return parsed;
}

}  // namespace faas::cli
