// Swarm service logs: the Engine API's multiplexed frames back to lines, and lines to entries.
#include "provider/swarm/swarm_logs.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using namespace faas::gateway::swarm;

namespace {

std::string frame(int stream, const std::string& payload) {
    std::string out(8, '\0');
    out[0] = static_cast<char>(stream);
    auto n = payload.size();
    out[4] = static_cast<char>((n >> 24) & 0xFF);
    out[5] = static_cast<char>((n >> 16) & 0xFF);
    out[6] = static_cast<char>((n >> 8) & 0xFF);
    out[7] = static_cast<char>(n & 0xFF);
    return out + payload;
}

}  // namespace

TEST_CASE("multiplexed log frames become lines whatever the chunking") {
    std::string stream = frame(1, "2026-01-01T00:00:00.000000001Z hello\nsecond ") +
                         frame(2, "half\n") + frame(1, "") + frame(1, "tail");
    for (std::size_t step = 1; step <= stream.size(); ++step) {
        LogDemuxer demuxer;
        std::vector<std::string> lines;
        for (std::size_t at = 0; at < stream.size(); at += step)
            for (auto& line : demuxer.feed(std::string_view(stream).substr(at, step)))
                lines.push_back(line);
        if (auto last = demuxer.finish()) lines.push_back(*last);
        REQUIRE_MESSAGE(lines.size() == 3, "chunk size ", step);
        CHECK(lines[0] == "2026-01-01T00:00:00.000000001Z hello");
        CHECK(lines[1] == "second half");
        CHECK(lines[2] == "tail");
    }
}

TEST_CASE("a TTY service's log stream is plain text") {
    LogDemuxer demuxer;
    auto lines = demuxer.feed("one\r\ntwo\n");
    CHECK(lines == std::vector<std::string>{"one", "two"});
    CHECK_FALSE(demuxer.finish());
}

TEST_CASE("service log lines carry time, task and text") {
    auto entry = parse_log_line(
        "2026-03-01T10:00:00.123456789Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
        "com.docker.swarm.task.id=t123 2026/03/01 10:00:00 Forking fprocess.",
        "echo");
    CHECK(entry.name == "echo");
    CHECK(entry.timestamp == "2026-03-01T10:00:00.123456789Z");
    CHECK(entry.instance == "t123");
    CHECK(entry.text == "2026/03/01 10:00:00 Forking fprocess.");

    auto plain = parse_log_line("no timestamp here", "echo");
    CHECK(plain.timestamp.empty());
    CHECK(plain.text == "no timestamp here");
}
