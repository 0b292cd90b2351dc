// A child process and the loop that drives it, with real programs.
#include "process_session.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "support/process.h"

using namespace faas::watchdog;
using Clock = std::chrono::steady_clock;

namespace {

// As in fwatchdog's main: a write to a child that has gone must be an EPIPE, not a SIGPIPE.
const bool kSigpipeIgnored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();

struct Run {
    SessionResult result;
    std::string output;
    std::string errors;
    double seconds = 0;
    pid_t pid = 0;
};

Run run(std::vector<std::string> argv, const std::string& input,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
        std::uint64_t max_output = 0, bool merge = true) {
    Run r;
    auto started = Clock::now();
    ChildProcess child(argv, {"PATH=/usr/bin:/bin"}, merge);
    r.pid = child.pid();
    std::optional<Clock::time_point> deadline;
    if (timeout.count() > 0) deadline = started + timeout;
    ProcessSession session(
        child,
        [&](const char* d, std::size_t n) {
            r.output.append(d, n);
            return true;
        },
        [&](const char* d, std::size_t n) { r.errors.append(d, n); }, deadline, max_output);
    session.write_input(input.data(), input.size());
    r.result = session.finish();
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return r;
}

}  // namespace

TEST_CASE("cat echoes an input far larger than a pipe buffer without deadlock") {
    std::string input(4 << 20, 'x');
    for (std::size_t i = 0; i < input.size(); i += 4096) input[i] = static_cast<char>('a' + i % 26);
    auto r = run({"/bin/cat"}, input);
    CHECK(r.result.end == SessionEnd::kExited);
    CHECK(r.result.status.success());
    CHECK(r.output == input);
}

TEST_CASE("a non-zero exit is reported with its code") {
    auto r = run({"/bin/sh", "-c", "echo out; exit 3"}, "");
    CHECK(r.result.status.exited);
    CHECK(r.result.status.code == 3);
    CHECK(r.result.status.describe() == "exit status 3");
    CHECK(r.output == "out\n");
}

TEST_CASE("the deadline kills the whole process group, grandchildren included") {
    auto r = run({"/bin/sh", "-c", "sleep 30 & sleep 30"}, "", std::chrono::milliseconds(300));
    CHECK(r.result.end == SessionEnd::kTimedOut);
    CHECK(r.seconds < 2.0);
    CHECK(faas::test::descendants_of(::getpid()).empty());
}

TEST_CASE("output beyond the bound kills the child and stops reading") {
    auto r = run({"/usr/bin/yes"}, "", std::chrono::milliseconds(10000), 1 << 20);
    CHECK(r.result.end == SessionEnd::kOutputTooLarge);
    CHECK(r.output.size() <= (1u << 20));
    CHECK(r.seconds < 5.0);
}

TEST_CASE("a child that exits without reading stdin does not hang the writer") {
    auto r = run({"/bin/true"}, std::string(8 << 20, 'z'));
    CHECK(r.result.status.success());
    CHECK(r.seconds < 5.0);
}

TEST_CASE("a child that closes stdout early still completes") {
    auto r = run({"/bin/sh", "-c", "echo early; exec >&-; cat >/dev/null; exit 0"},
                 std::string(1 << 20, 'q'));
    CHECK(r.result.status.success());
    CHECK(r.output == "early\n");
}

TEST_CASE("background work left by a finished function is ended with it") {
    auto r = run({"/bin/sh", "-c", "sleep 31 & echo done"}, "");
    CHECK(r.result.status.success());
    CHECK(r.output == "done\n");
    CHECK(r.seconds < 3.0);
    CHECK(faas::test::descendants_of(::getpid()).empty());
}

TEST_CASE("stderr kept apart when not combined") {
    auto r = run({"/bin/sh", "-c", "echo to-out; echo to-err >&2"}, "",
                 std::chrono::milliseconds(0), 0, false);
    CHECK(r.output == "to-out\n");
    CHECK(r.errors == "to-err\n");
}

TEST_CASE("a missing program is a SpawnError") {
    CHECK_THROWS_AS(ChildProcess({"/no/such/program"}, {}, true), SpawnError);
}
