// The retry schedule (exponential, capped), the retry decision, and reading the settings.
#include "retry_policy.h"

#include <doctest/doctest.h>

#include <climits>

#include "settings.h"

using faas::ConfigError;
using faas::MapEnv;
using faas::queue::backoff;
using faas::queue::parse_status_codes;
using faas::queue::read_retry_policy;
using faas::queue::RetryPolicy;
using faas::queue::should_retry;
using std::chrono::milliseconds;

namespace {
MapEnv env_of(std::map<std::string, std::string> values) {
    return MapEnv(std::move(values));
}
}  // namespace

TEST_CASE("back-off doubles from initial_wait and stops at max_wait") {
    const RetryPolicy policy;  // 1 s, capped at 30 s.
    const struct {
        int attempt;
        long long wait_ms;
    } table[] = {{1, 1000},  {2, 2000},  {3, 4000},  {4, 8000},
                 {5, 16000}, {6, 30000}, {7, 30000}, {10, 30000}};
    for (const auto& row : table)
        CHECK_MESSAGE(backoff(policy, row.attempt).count() == row.wait_ms, "attempt ", row.attempt);
}

TEST_CASE("back-off bounds: attempts below 1, huge attempts, a cap that is not a doubling") {
    RetryPolicy policy;
    CHECK(backoff(policy, 0) == milliseconds(1000));
    CHECK(backoff(policy, -5) == milliseconds(1000));
    CHECK(backoff(policy, INT_MAX) == milliseconds(30000));
    policy.initial_wait = milliseconds(300);
    policy.max_wait = milliseconds(1000);
    CHECK(backoff(policy, 2) == milliseconds(600));
    CHECK(backoff(policy, 3) == milliseconds(1000));
    policy.initial_wait = milliseconds(0);
    CHECK(backoff(policy, INT_MAX) == milliseconds(0));
    policy.initial_wait = milliseconds(5000);  // Above the cap: the wait is the initial one.
    policy.max_wait = milliseconds(1000);
    CHECK(backoff(policy, 1) == milliseconds(5000));
    CHECK(backoff(policy, 9) == milliseconds(5000));
    policy.initial_wait = milliseconds(1);
    policy.max_wait = milliseconds(LLONG_MAX);  // No overflow on the way up.
    CHECK(backoff(policy, 70) > milliseconds(0));
}

TEST_CASE("retry on the listed statuses while attempts remain") {
    RetryPolicy policy;
    policy.max_attempts = 3;
    CHECK(should_retry(policy, 503, 1));
    CHECK(should_retry(policy, 429, 2));
    CHECK_FALSE(should_retry(policy, 503, 3));  // The last attempt was the third.
    CHECK_FALSE(should_retry(policy, 500, 1));
    CHECK_FALSE(should_retry(policy, 200, 1));
    CHECK_FALSE(should_retry(policy, 404, 1));
    policy.max_attempts = 1;
    CHECK_FALSE(should_retry(policy, 503, 1));
}

TEST_CASE("status code lists parse, with spaces, and bad ones name the setting") {
    CHECK(parse_status_codes("codes", "429,502,503,504") == std::set<int>{429, 502, 503, 504});
    CHECK(parse_status_codes("codes", " 500 , 502") == std::set<int>{500, 502});
    CHECK(parse_status_codes("codes", "503,503") == std::set<int>{503});
    for (const char* bad : {"", " ", "429,", ",429", "429,,502", "abc", "99", "600", "4x9",
                            "429;502", "-503", "99999999999999999999"}) {
        CHECK_THROWS_WITH_AS(parse_status_codes("retry_http_codes", bad),
                             doctest::Contains("retry_http_codes: "), ConfigError);
    }
    CHECK_THROWS_WITH_AS(parse_status_codes("codes", "429,600"),
                         doctest::Contains("'600' is not an HTTP status"), ConfigError);
}

TEST_CASE("the policy reads from settings, and unset or blank ones keep the defaults") {
    RetryPolicy defaults = read_retry_policy(MapEnv{});
    CHECK(defaults.max_attempts == 10);
    CHECK(defaults.initial_wait == milliseconds(1000));
    CHECK(defaults.max_wait == milliseconds(30000));
    CHECK(defaults.retry_statuses == std::set<int>{429, 502, 503, 504});
    CHECK(read_retry_policy(env_of({{"retry_http_codes", " "}})).retry_statuses ==
          defaults.retry_statuses);

    RetryPolicy p = read_retry_policy(MapEnv({{"max_retry_attempts", "3"},
                                              {"initial_retry_wait", "250ms"},
                                              {"max_retry_wait", "2"},
                                              {"retry_http_codes", "500,503"}}));
    CHECK(p.max_attempts == 3);
    CHECK(p.initial_wait == milliseconds(250));
    CHECK(p.max_wait == milliseconds(2000));
    CHECK(p.retry_statuses == std::set<int>{500, 503});
}

TEST_CASE("bad retry settings are one clear error naming the setting") {
    const struct {
        const char* name;
        const char* value;
        const char* message;
    } cases[] = {
        {"max_retry_attempts", "0", "max_retry_attempts: value 0 is out of range 1..1000"},
        {"max_retry_attempts", "ten", "max_retry_attempts: cannot parse"},
        {"initial_retry_wait", "soon", "initial_retry_wait: cannot parse"},
        {"initial_retry_wait", "0s", "initial_retry_wait: must be more than 0"},
        {"initial_retry_wait", "2h", "initial_retry_wait: must be more than 0 and at most 1h"},
        {"max_retry_wait", "500ms", "max_retry_wait: must be at least initial_retry_wait"},
        {"max_retry_wait", "90m", "max_retry_wait: must be at least"},
        {"retry_http_codes", "503,", "retry_http_codes: '503,' has an empty item"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.value);
        CHECK_THROWS_WITH_AS(read_retry_policy(env_of({{c.name, c.value}})),
                             doctest::Contains(c.message), ConfigError);
    }
}
