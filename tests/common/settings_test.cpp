// Setting formats shared by the gateway and the watchdog.
#include "settings.h"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using faas::MapEnv;

TEST_CASE("durations: integers are seconds, Go-style durations are accepted") {
    CHECK(faas::parse_duration("30") == 30s);
    CHECK(faas::parse_duration("0") == 0s);
    CHECK(faas::parse_duration("500ms") == 500ms);
    CHECK(faas::parse_duration("5s") == 5s);
    CHECK(faas::parse_duration("1m") == 60s);
    CHECK(faas::parse_duration("1m30s") == 90s);
    CHECK(faas::parse_duration("1.5h") == 5400s);
    CHECK(faas::parse_duration("250us") == 250us);
    CHECK(faas::parse_duration(" 2s ") == 2s);
}

TEST_CASE("durations: garbage, negatives and unknown units are rejected") {
    for (const char* bad :
         {"", "abc", "-1", "-5s", "5x", "s", "5 s", "1..5s", "99999999999999999999"}) {
        CAPTURE(bad);
        CHECK_FALSE(faas::parse_duration(bad).has_value());
    }
}

TEST_CASE("booleans follow Go's ParseBool") {
    CHECK(faas::parse_bool("true") == true);
    CHECK(faas::parse_bool("1") == true);
    CHECK(faas::parse_bool("FALSE") == false);
    CHECK_FALSE(faas::parse_bool("yes").has_value());
    CHECK_FALSE(faas::parse_bool("").has_value());
}

TEST_CASE("byte sizes accept plain bytes and binary units") {
    CHECK(faas::parse_byte_size("1048576") == 1048576u);
    CHECK(faas::parse_byte_size("512k") == 512u * 1024);
    CHECK(faas::parse_byte_size("16Mi") == 16u * 1024 * 1024);
    CHECK(faas::parse_byte_size("16MiB") == 16u * 1024 * 1024);
    CHECK(faas::parse_byte_size("1G") == 1024u * 1024 * 1024);
    CHECK_FALSE(faas::parse_byte_size("16 furlongs").has_value());
    CHECK_FALSE(faas::parse_byte_size("-1").has_value());
    CHECK_FALSE(faas::parse_byte_size("99999999999999999999G").has_value());
}

TEST_CASE("getters fall back when unset or empty and name the variable when bad") {
    MapEnv env({{"read_timeout", "nope"}, {"empty", ""}, {"port", "70000"}, {"flag", "maybe"}});
    CHECK(faas::get_duration(env, "unset", 7s) == 7s);
    CHECK(faas::get_duration(env, "empty", 7s) == 7s);
    try {
        faas::get_duration(env, "read_timeout", 1s);
        FAIL("expected a ConfigError");
    } catch (const faas::ConfigError& e) {
        CHECK(e.variable() == "read_timeout");
        CHECK(std::string(e.what()).find("read_timeout") == 0);
    }
    CHECK_THROWS_AS(faas::get_port(env, "port", 8080), faas::ConfigError);
    CHECK_THROWS_AS(faas::get_bool(env, "flag", false), faas::ConfigError);
    CHECK(faas::get_port(env, "unset", 8080) == 8080);
}
