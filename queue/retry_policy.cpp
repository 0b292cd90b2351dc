// The retry schedule and its settings.
#include "retry_policy.h"

#include <algorithm>

#include "settings.h"

namespace faas::queue {

std::chrono::milliseconds backoff(const RetryPolicy& policy, int attempt) {
    auto wait = std::max(policy.initial_wait, std::chrono::milliseconds(0));
    const auto max_wait = std::max(policy.max_wait, wait);
    // Doubling stops at the cap, so a huge attempt number costs a few dozen steps at most.
    for (int i = 1; i < attempt && wait < max_wait; ++i) {
        if (wait.count() == 0) break;
        wait = wait > max_wait / 2 ? max_wait : wait * 2;
    }
    return wait;
}

bool should_retry(const RetryPolicy& policy, int status, int attempt) {
    return attempt < policy.max_attempts && policy.retry_statuses.count(status) > 0;
}

std::set<int> parse_status_codes(const std::string& variable, std::string_view text) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    const std::string quoted = "'" + std::string(text) + "'";
    if (trim(text).empty())
        throw ConfigError(variable, "no status codes given (e.g. 429,502,503,504)");
    std::set<int> statuses;
    while (true) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (item.empty())
            throw ConfigError(variable, quoted + " has an empty item (e.g. 429,502,503,504)");
        auto number = parse_int(item);
        if (!number || *number < 100 || *number > 599)
            throw ConfigError(variable, quoted + ": '" + std::string(item) +
                                            "' is not an HTTP status (100..599)");
        statuses.insert(static_cast<int>(*number));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return statuses;
}

RetryPolicy read_retry_policy(const Env& env) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    RetryPolicy policy;
    policy.max_attempts =
        static_cast<int>(get_int(env, "max_retry_attempts", policy.max_attempts, 1, 1000));
    policy.initial_wait =
        duration_cast<milliseconds>(get_duration(env, "initial_retry_wait", policy.initial_wait));
    policy.max_wait =
        duration_cast<milliseconds>(get_duration(env, "max_retry_wait", policy.max_wait));
    constexpr milliseconds kLongest = std::chrono::hours(1);
    if (policy.initial_wait <= milliseconds(0) || policy.initial_wait > kLongest)
        throw ConfigError("initial_retry_wait", "must be more than 0 and at most 1h, not " +
                                                    format_duration(policy.initial_wait));
    if (policy.max_wait < policy.initial_wait || policy.max_wait > kLongest)
        throw ConfigError("max_retry_wait", "must be at least initial_retry_wait (" +
                                                format_duration(policy.initial_wait) +
                                                ") and at most 1h, not " +
                                                format_duration(policy.max_wait));
    if (auto codes = env.get("retry_http_codes");
        codes && codes->find_first_not_of(" \t") != std::string::npos)
        policy.retry_statuses = parse_status_codes("retry_http_codes", *codes);
    return policy;
}

}  // namespace faas::queue
