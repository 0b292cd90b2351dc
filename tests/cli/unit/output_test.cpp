// Human output: tables, durations, sizes, times; and the duration parser of --timeout/--since.
#include "output.h"

#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>

namespace faas::cli {

using namespace std::chrono_literals;

TEST_CASE("table: columns padded to the widest cell, two spaces apart, no trailing blanks") {
    Table table({"Function", "Invocations", "Replicas"});
    table.add_row({"hello", "12", "1"});
    table.add_row({"a-much-longer-name", "0"});  // a missing cell is empty
    std::ostringstream out;
    table.print(out);
    CHECK(out.str() ==
          "Function            Invocations  Replicas\n"
          "hello               12           1\n"
          "a-much-longer-name  0\n");
    CHECK(table.rows() == 2);
    CHECK_THROWS_AS(table.add_row({"1", "2", "3", "4"}), std::invalid_argument);
}

TEST_CASE("table: width counts characters, not UTF-8 bytes") {
    Table table({"Name", "X"});
    table.add_row({"café", "1"});
    table.add_row({"tea", "2"});
    std::ostringstream out;
    table.print(out);
    CHECK(out.str() == "Name  X\ncafé  1\ntea   2\n");
}

TEST_CASE("human durations, sizes and times") {
    CHECK(human_duration(0s) == "0s");
    CHECK(human_duration(45s) == "45s");
    CHECK(human_duration(60s) == "1m");
    CHECK(human_duration(200s) == "3m20s");
    CHECK(human_duration(3600s + 300s + 7s) == "1h5m");
    CHECK(human_duration(2 * 86400s + 4 * 3600s) == "2d4h");
    CHECK(human_duration(-5s) == "0s");

    CHECK(human_size(0) == "0 B");
    CHECK(human_size(512) == "512 B");
    CHECK(human_size(1024) == "1 KiB");
    CHECK(human_size(1536) == "1.5 KiB");
    CHECK(human_size(64ull << 20) == "64 MiB");
    CHECK(human_size(3ull << 30) == "3 GiB");

    const auto time = std::chrono::system_clock::from_time_t(1'796'216'886);  // 2026-12-02 13:08:06
    CHECK(human_time(time, time + 300s) == "2026-12-02 13:08:06 UTC (5m ago)");
    CHECK(human_time(time, time - 1s) == "2026-12-02 13:08:06 UTC (in the future)");
}

TEST_CASE("durations: seconds by default, Go's units, nothing else") {
    CHECK(parse_duration("90") == 90s);
    CHECK(parse_duration("90s") == 90s);
    CHECK(parse_duration("2m") == 120s);
    CHECK(parse_duration("1h30m") == 5400s);
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("1m30s") == 90s);
    CHECK(parse_duration("0") == 0s);
    for (const char* bad : {"", "s", "-5s", "5x", "1.5s", "5 s", "10d", "m5",
                            "99999999999999999999s", "9223372036854775807h"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_duration(bad));
    }
}

TEST_CASE("json helpers: pretty with a final newline, counts sent as floats") {
    std::ostringstream out;
    print_json(out, nlohmann::json{{"a", 1}});
    CHECK(out.str() == "{\n  \"a\": 1\n}\n");
    CHECK(json_count(nlohmann::json(3)) == 3);
    CHECK(json_count(nlohmann::json(7.0)) == 7);
    CHECK(json_count(nlohmann::json("7")) == 0);
    CHECK(json_count(nlohmann::json()) == 0);
}

}  // namespace faas::cli
