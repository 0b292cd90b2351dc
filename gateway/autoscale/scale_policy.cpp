// Scale policy labels: one parser per label, shared by the lenient and the strict reader.
#include "autoscale/scale_policy.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "settings.h"

namespace faas::gateway {
namespace {

using Labels = std::map<std::string, std::string>;

// The largest min or max scaling_bounds accepts.
constexpr std::int64_t kLargestReplicaLabel = 1'000'000;

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// A finite decimal number ("4", "0.75", "1e3"); not "inf", "nan" or trailing text.
std::optional<double> parse_number(std::string_view text) {
    text = trim(text);
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value))
        return std::nullopt;
    return value;
}

// Each label's value when it is valid, nullopt otherwise.

std::optional<int> replica_count(std::string_view text) {
    auto value = parse_int(text);
    if (!value || *value < 0 || *value > kLargestReplicaLabel) return std::nullopt;
    return static_cast<int>(*value);
}

std::optional<ScaleType> scale_type(std::string_view text) {
    text = trim(text);
    if (text == "capacity") return ScaleType::kCapacity;
    if (text == "rps") return ScaleType::kRps;
    return std::nullopt;
}

std::optional<ZeroMode> zero_mode(std::string_view text) {
    text = trim(text);
    if (text == "remove") return ZeroMode::kRemove;
    if (text == "pause") return ZeroMode::kPause;
    return std::nullopt;
}

std::optional<double> target(std::string_view text) {
    auto value = parse_number(text);
    if (!value || *value <= 0) return std::nullopt;
    return value;
}

std::optional<double> target_proportion(std::string_view text) {
    auto value = parse_number(text);
    if (!value || *value <= 0 || *value > 1) return std::nullopt;
    return value;
}

std::optional<std::chrono::nanoseconds> zero_duration(std::string_view text) {
    auto value = parse_duration(text);
    if (!value || value->count() <= 0) return std::nullopt;
    return value;
}

template <typename Parse>
auto label_value(const Labels& labels, const char* key, Parse parse) {
    auto it = labels.find(key);
    return it == labels.end() ? decltype(parse(it->second))() : parse(it->second);
}

// A label value quoted for a one-line message: control characters become '?', long values
// are cut.
std::string quoted(std::string_view value) {
    constexpr std::size_t kLongest = 64;
    std::string out = "\"";
    for (char c : value.substr(0, kLongest))
        out += std::iscntrl(static_cast<unsigned char>(c)) ? '?' : c;
    if (value.size() > kLongest) out += "...";
    return out + "\"";
}

struct LabelRule {
    const char* label;
    bool (*valid)(std::string_view);
    const char* requirement;
};

const LabelRule kLabelRules[] = {
    {kScaleMinLabel, [](std::string_view v) { return replica_count(v).has_value(); },
     "a whole number from 0 to 1000000"},
    {kScaleMaxLabel, [](std::string_view v) { return replica_count(v).has_value(); },
     "a whole number from 0 to 1000000"},
    {kScaleTypeLabel, [](std::string_view v) { return scale_type(v).has_value(); },
     "\"capacity\" or \"rps\""},
    {kScaleTargetLabel, [](std::string_view v) { return target(v).has_value(); },
     "a positive number"},
    {kScaleTargetProportionLabel,
     [](std::string_view v) { return target_proportion(v).has_value(); },
     "a number above 0 and at most 1"},
    {kScaleZeroLabel, [](std::string_view v) { return parse_bool(v).has_value(); },
     "true or false"},
    {kScaleZeroDurationLabel, [](std::string_view v) { return zero_duration(v).has_value(); },
     "a positive duration such as 15m or 90s"},
    {kScaleZeroModeLabel, [](std::string_view v) { return zero_mode(v).has_value(); },
     "\"remove\" or \"pause\""},
};

}  // namespace

ScalePolicy scale_policy(const Labels& labels) {
    ScalePolicy policy;
    auto bounds = scaling_bounds(labels);
    policy.min = bounds.min;
    policy.max = bounds.max;
    policy.type = label_value(labels, kScaleTypeLabel, scale_type).value_or(policy.type);
    policy.target = label_value(labels, kScaleTargetLabel, target);
    policy.target_proportion = label_value(labels, kScaleTargetProportionLabel, target_proportion)
                                   .value_or(policy.target_proportion);
    policy.zero = label_value(labels, kScaleZeroLabel, parse_bool).value_or(policy.zero);
    policy.zero_duration =
        label_value(labels, kScaleZeroDurationLabel, zero_duration).value_or(policy.zero_duration);
    policy.zero_mode =
        label_value(labels, kScaleZeroModeLabel, zero_mode).value_or(policy.zero_mode);
    return policy;
}

std::optional<std::string> scale_policy_error(const Labels& labels) {
    for (const auto& rule : kLabelRules) {
        auto it = labels.find(rule.label);
        if (it != labels.end() && !rule.valid(it->second))
            return std::string(rule.label) + " must be " + rule.requirement + ", not " +
                   quoted(it->second);
    }
    auto min = label_value(labels, kScaleMinLabel, replica_count);
    auto max = label_value(labels, kScaleMaxLabel, replica_count);
    if (min && max && *min > *max)
        return std::string(kScaleMinLabel) + " must not be above " + kScaleMaxLabel + " (" +
               std::to_string(*min) + " > " + std::to_string(*max) + ")";
    return std::nullopt;
}

bool autoscaled(const ScalePolicy& policy) {
    return policy.target.has_value() && policy.min != policy.max;
}

}  // namespace faas::gateway
