// Running child programs: output captured or split into lines, exit codes, stdin, the
// environment and working folder, a program that is missing, and the child's whole process group
// killed and reaped when the caller leaves early or keep_going says stop.
#include "subprocess.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/wait.h"

using namespace faas;

namespace {

/// True once `pid` is gone (or a zombie waiting for init to reap it).
bool process_dead(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field_pid, comm, state;
    return !(stat >> field_pid >> comm >> state) || state == "Z";
}

}  // namespace

TEST_CASE("subprocess: output captured, exit codes, stdin, environment, working folder") {
    auto result = run_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(result.exit_code == 3);
    CHECK(result.output.find("out\n") != std::string::npos);
    CHECK(result.output.find("err\n") != std::string::npos);

    CHECK(run_process({"true"}).exit_code == 0);  // Found on PATH.
    CHECK(run_process({"/bin/sh", "-c", "kill -TERM $$"}).exit_code == 128 + SIGTERM);

    ProcessOptions options;
    options.stdin_text = "line one\nline two\n";
    CHECK(run_process({"cat"}, options).output == "line one\nline two\n");
    options.stdin_text = std::string(1 << 20, 'x');  // More than a pipe holds: written as read.
    CHECK(run_process({"wc", "-c"}, options).output == "1048576\n");
    options.stdin_text = std::string(1 << 20, 'x');  // Not read at all: no SIGPIPE, no hang.
    CHECK(run_process({"/bin/sh", "-c", "exit 4"}, options).exit_code == 4);

    ProcessOptions env_options;
    env_options.environment = {{"FAAS_TEST_VAR", "hello there"}, {"PATH", "/usr/bin:/bin"}};
    CHECK(run_process({"/bin/sh", "-c", "echo \"$FAAS_TEST_VAR\""}, env_options).output ==
          "hello there\n");
    ProcessOptions dir_options;
    dir_options.working_dir = "/";
    CHECK(run_process({"pwd"}, dir_options).output == "/\n");
    ProcessOptions no_stdin;
    CHECK(run_process({"cat"}, no_stdin).output.empty());  // stdin is /dev/null.
}

TEST_CASE("subprocess: lines handed over one by one, \\r and \\r\\n ending lines") {
    std::vector<std::string> lines;
    ProcessOptions options;
    options.on_line = [&](std::string_view line) { lines.emplace_back(line); };
    const auto result = run_process(
        {"/bin/sh", "-c", "printf 'one\\ntwo\\r\\nthree\\rfour\\n\\nlast-without-newline'"},
        options);
    CHECK(result.exit_code == 0);
    CHECK(result.output.empty());
    CHECK(lines ==
          std::vector<std::string>{"one", "two", "three", "four", "", "last-without-newline"});

    lines.clear();
    run_process({"/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a"}, options);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].size() == kMaxLineLength);
    CHECK(lines[3].size() == 200000 - 3 * kMaxLineLength);
}

TEST_CASE("subprocess: a program that is missing is a SpawnError") {
    try {
        run_process({"faas-no-such-program-here"});
        FAIL("expected a SpawnError");
    } catch (const SpawnError& error) {
        CHECK(error.error_number() == ENOENT);
        CHECK(std::string(error.what()) ==
              "cannot run faas-no-such-program-here: not found on PATH");
    }
}

TEST_CASE("subprocess: a throwing callback kills the child's group and reaps it") {
    pid_t grandchild = 0;
    ProcessOptions options;
    options.on_line = [&](std::string_view line) {
        grandchild = std::stoi(std::string(line));
        throw std::runtime_error("stop");
    };
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(run_process({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, options), "stop");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    CHECK(test::zombie_children(::getpid()) == 0);
    // The background job was in the child's group and died with it (gone, or a zombie of init).
    REQUIRE(grandchild > 0);
    CHECK(test::wait_until([&] { return process_dead(grandchild); }, std::chrono::seconds(5)));
}

TEST_CASE("subprocess: the loop ends when the child exits even if a grandchild keeps the pipe") {
    const auto start = std::chrono::steady_clock::now();
    const auto result = run_process({"/bin/sh", "-c", "echo parent; sleep 30 & exit 0"});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "parent\n");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("subprocess: keep_going false stops a sleeping child and its group within a second") {
    pid_t grandchild = 0;
    std::chrono::steady_clock::time_point stop_wanted_at{};
    ProcessOptions options;
    // The stop is wanted once the grandchild's pid is printed, so the whole group has started.
    options.on_line = [&](std::string_view line) {
        grandchild = std::stoi(std::string(line));
        stop_wanted_at = std::chrono::steady_clock::now();
    };
    options.keep_going = [&] { return grandchild == 0; };
    const auto result = run_process({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, options);
    REQUIRE(grandchild > 0);
    CHECK(std::chrono::steady_clock::now() - stop_wanted_at < std::chrono::seconds(1));
    CHECK(result.stopped);
    CHECK(result.exit_code == 128 + SIGKILL);
    CHECK(test::zombie_children(::getpid()) == 0);
    // `sleep 30 &` was in the child's group and was killed with it.
    CHECK(test::wait_until([&] { return process_dead(grandchild); }, std::chrono::seconds(5)));
}

TEST_CASE("subprocess: keep_going is asked while a quiet child runs, and true changes nothing") {
    int asked = 0;
    ProcessOptions options;
    options.keep_going = [&] {
        ++asked;
        return true;
    };
    const auto start = std::chrono::steady_clock::now();
    const auto result = run_process({"/bin/sh", "-c", "sleep 0.5; echo done"}, options);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(result.stopped);
    CHECK(result.exit_code == 0);
    CHECK(result.output == "done\n");
    // At least once per kKeepGoingPollMs of the run, give or take the first and last interval.
    const auto intervals =
        std::chrono::duration_cast<std::chrono::milliseconds>(took).count() / kKeepGoingPollMs;
    CHECK(asked >= intervals - 1);
    CHECK(asked >= 3);
}

TEST_CASE("subprocess: without inherit_environment the child sees only the environment given") {
    ::setenv("FAAS_SUBPROCESS_TEST_SECRET", "leaked", 1);
    ProcessOptions options;
    options.inherit_environment = false;
    options.environment = {{"ONLY", "this"}};
    const auto result = run_process(
        {"/bin/sh", "-c", "echo \"${FAAS_SUBPROCESS_TEST_SECRET:-unset} $ONLY\""}, options);
    ::unsetenv("FAAS_SUBPROCESS_TEST_SECRET");
    CHECK(result.output == "unset this\n");
}

TEST_CASE("subprocess: no program at all is refused") {
    CHECK_THROWS_AS(run_process({}), std::invalid_argument);
    CHECK_THROWS_AS(run_process({""}), std::invalid_argument);
}
