// Runs a real program for an integration test: its own environment, output captured to a file,
// killed (with its process group) and reaped when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace faas::test {

/// True in the ASan build, whose quarantine and shadow memory make RSS bounds meaningless:
/// memory-bound assertions say so and are made in the other builds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

/// A figure from /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 when it cannot be read.
long proc_status_kib(pid_t pid, const std::string& field);

class TestProcess {
  public:
    /// Starts `argv` with exactly `env` as its environment (plus PATH, TMPDIR and the
    /// sanitizer options of the test itself, if absent).
    TestProcess(std::vector<std::string> argv, std::map<std::string, std::string> env);
    ~TestProcess();
    TestProcess(const TestProcess&) = delete;
    TestProcess& operator=(const TestProcess&) = delete;

    pid_t pid() const { return pid_; }
    /// Everything the process wrote to stdout and stderr so far.
    std::string output() const;
    /// Sends `signal` to the process.
    void signal(int signal) const;
    /// Waits for exit up to `timeout`; returns the exit code (128+N for signal N), or nullopt.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running();

  private:
    pid_t pid_ = -1;
    std::string log_path_;
    std::optional<int> exit_code_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
/// A fresh private directory under the system temp dir, removed by the caller's TempDir.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

/// The PIDs of every live process whose parent chain leads to `ancestor` (not itself).
std::vector<pid_t> descendants_of(pid_t ancestor);
/// Live processes whose command line contains `needle`.
std::vector<pid_t> processes_matching(const std::string& needle);
/// Resident set size of `pid` in KiB, from /proc.
long rss_kib(pid_t pid);
/// Number of zombie children of `pid`.
int zombie_children(pid_t pid);

}  // namespace faas::test
