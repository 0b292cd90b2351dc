// One per-request fprocess child: started with posix_spawn (vfork semantics, so the cost does
// not grow with the watchdog's heap) in a process group of its own, with pipes for stdin,
// stdout and (optionally separate) stderr. The destructor kills the whole group and reaps it,
// so no path can leave an orphan or a zombie.
#pragma once

#include <sys/types.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace faas::watchdog {

/// A child could not be started (fork/exec failure, out of fds).
class SpawnError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// How a child ended.
struct ExitStatus {
    bool exited = false;  ///< true: `code` is valid; false: killed by `signal`.
    int code = 0;
    int signal = 0;
    bool success() const { return exited && code == 0; }
    /// "exit status 3" or "signal: killed", as Go's os/exec words it.
    std::string describe() const;
};

class ChildProcess {
  public:
    /// Starts argv[0] (a path) with exactly `envp`. stderr shares stdout's pipe when
    /// `merge_stderr`, so the two interleave as written.
    ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& envp,
                 bool merge_stderr);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    int stdin_fd() const { return stdin_fd_; }
    int stdout_fd() const { return stdout_fd_; }
    int stderr_fd() const { return stderr_fd_; }  ///< -1 when merged.
    /// Readable when the child has exited (-1 if pidfds are unavailable).
    int exit_fd() const { return pidfd_; }

    void close_stdin();
    void close_stdout();
    void close_stderr();
    /// SIGKILL to every process in the child's group (the child and anything it started).
    void kill_group();
    /// Non-blocking: the exit status once the child has exited (reaping it).
    std::optional<ExitStatus> try_reap();
    /// Blocks until the child exits.
    ExitStatus reap();

    /// SIGKILL to the group of every child not yet reaped: the last resort of a drain that
    /// ran out of time, so the watchdog's exit leaves nothing behind.
    static void kill_all_groups();

  private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
    int pidfd_ = -1;
    std::optional<ExitStatus> status_;
};

}  // namespace faas::watchdog
