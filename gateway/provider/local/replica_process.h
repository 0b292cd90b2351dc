// One fwatchdog child process of the local provider: started with Boost.Process in its own
// process group, stdout and stderr captured line by line, its listening port learnt from its
// "Listening on port: N" line, and stopped (with its fprocess children) on destruction.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace faas::gateway {

/// Where a replica runs and what it sees of the host's files.
struct ReplicaFiles {
    /// Its working directory; empty: the gateway's.
    std::string working_dir;
    /// When set, this folder is bound read-only at `secrets_target` in a mount namespace of
    /// the replica's own (needs root: see secret_mounts_available()).
    std::string secrets_dir;
    std::string secrets_target;
};

class ReplicaProcess {
  public:
    using LineSink = std::function<void(std::string line)>;

    /// Starts `executable` with exactly `env`, placed as `files` says. Each output line goes to
    /// `on_line` (from a reader thread). Throws std::runtime_error when the process cannot be
    /// started; a mount that fails makes it exit with 126 after saying so in its output.
    ReplicaProcess(const std::string& executable, const std::map<std::string, std::string>& env,
                   LineSink on_line, const ReplicaFiles& files = {});
    /// Kills the whole process group and reaps the child. The output reader is detached: it
    /// ends at EOF on its own, and a descendant that escaped the group cannot block us.
    ~ReplicaProcess();
    ReplicaProcess(const ReplicaProcess&) = delete;
    ReplicaProcess& operator=(const ReplicaProcess&) = delete;

    pid_t pid() const { return pid_; }
    /// The port the watchdog announced, once it has.
    std::optional<int> port() const;
    /// False once the process has exited (reaps it).
    bool running();
    /// Exit code (128+N for signal N) once it has exited.
    std::optional<int> exit_code() const { return exit_code_; }
    /// Asks the watchdog to drain and stop.
    void terminate() const;
    /// SIGKILL to the whole process group (the watchdog and any fprocess it forked).
    void kill_group() const;

  private:
    struct ChildHolder;
    struct Output;  // shared with the detached reader thread
    static void read_lines(int fd, Output& output);
    std::unique_ptr<ChildHolder> child_;
    std::shared_ptr<Output> output_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
};

/// The port in a watchdog log line "YYYY/MM/DD HH:MM:SS Listening on port: N", if it is one.
std::optional<int> announced_port(std::string_view line);

}  // namespace faas::gateway
