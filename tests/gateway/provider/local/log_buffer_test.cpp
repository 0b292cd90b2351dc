// In-memory log lines for /system/logs.
#include "provider/local/log_buffer.h"

#include <doctest/doctest.h>

#include <thread>

#include "time_format.h"

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> drain(LogStream& stream) {
    std::vector<std::string> out;
    for (int i = 0; i < 100; ++i) {
        auto batch = stream.next(0ms);
        if (!batch) break;
        for (auto& entry : *batch) out.push_back(entry.text);
    }
    return out;
}
}  // namespace

TEST_CASE("tail, instance and the bound on kept lines") {
    auto buffer = std::make_shared<LogBuffer>("fn", 5);
    for (int i = 0; i < 8; ++i) buffer->append(i % 2 ? "r1" : "r0", "line " + std::to_string(i));
    auto all = buffer->stream(LogQuery{"fn", std::nullopt, -1, std::nullopt, false});
    CHECK(drain(*all) ==
          std::vector<std::string>{"line 3", "line 4", "line 5", "line 6", "line 7"});
    auto tail = buffer->stream(LogQuery{"fn", std::nullopt, 2, std::nullopt, false});
    CHECK(drain(*tail) == std::vector<std::string>{"line 6", "line 7"});
    auto r1 = buffer->stream(LogQuery{"fn", std::string("r1"), 1, std::nullopt, false});
    CHECK(drain(*r1) == std::vector<std::string>{"line 7"});
}

TEST_CASE("followers wake on new lines and end when the buffer closes") {
    auto buffer = std::make_shared<LogBuffer>("fn");
    auto stream = buffer->stream(LogQuery{"fn", std::nullopt, 0, std::nullopt, true});
    std::thread writer([&] {
        std::this_thread::sleep_for(20ms);
        buffer->append("r0", "hello");
    });
    std::vector<std::string> got;
    for (int i = 0; i < 50 && got.empty(); ++i) {
        auto batch = stream->next(100ms);
        REQUIRE(batch);
        for (auto& entry : *batch) got.push_back(entry.text);
    }
    writer.join();
    CHECK(got == std::vector<std::string>{"hello"});
    buffer->close();
    CHECK_FALSE(stream->next(10ms));
}

TEST_CASE("RFC 3339 round trip") {
    auto now = std::chrono::system_clock::now();
    auto parsed = faas::parse_rfc3339(faas::rfc3339_nano(now));
    REQUIRE(parsed);
    CHECK(std::chrono::abs(*parsed - now) < 1us);
    CHECK(faas::parse_rfc3339("2026-01-02T03:04:05Z"));
    CHECK(faas::parse_rfc3339("2026-01-02T03:04:05.5+01:00"));
    CHECK_FALSE(faas::parse_rfc3339("yesterday"));
}
