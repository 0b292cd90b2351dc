// Drives one running child: writes the request body to its stdin while draining its stdout
// (and stderr) so neither side can block the other, enforces the exec deadline and the output
// bound, and cleans up the child's whole process group when it ends. The process must ignore
// SIGPIPE (fwatchdog's main does), so that writing to a child that has exited is an EPIPE.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "child_process.h"

namespace faas::watchdog {

enum class SessionEnd {
    kExited,          ///< The child exited (see status).
    kTimedOut,        ///< exec_timeout passed; the group was killed.
    kOutputTooLarge,  ///< Output passed max_response_bytes; the group was killed.
    kAborted,  ///< The output consumer gave up (client gone, budget spent); the group was killed.
};

struct SessionResult {
    SessionEnd end = SessionEnd::kExited;
    ExitStatus status;
    std::uint64_t output_bytes = 0;
};

class ProcessSession {
  public:
    /// Receives stdout data; returns false to abort (the client went away).
    using OutputHandler = std::function<bool(const char* data, std::size_t size)>;
    /// Receives stderr data when it is not merged into stdout.
    using ErrorHandler = std::function<void(const char* data, std::size_t size)>;

    ProcessSession(ChildProcess& child, OutputHandler on_output, ErrorHandler on_error,
                   std::optional<std::chrono::steady_clock::time_point> deadline,
                   std::uint64_t max_output);

    /// Writes `size` bytes to the child's stdin, draining output meanwhile. Returns false once
    /// the session has ended early; input the child does not read (it closed stdin or exited)
    /// is discarded.
    bool write_input(const char* data, std::size_t size);
    /// Closes stdin, drains output until EOF and exit, then reaps the child.
    SessionResult finish();

  private:
    bool pump(const char* data, std::size_t size, bool closing);
    bool drain(int& fd, bool is_stdout);
    void end(SessionEnd why);

    ChildProcess& child_;
    OutputHandler on_output_;
    ErrorHandler on_error_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::uint64_t max_output_;
    std::uint64_t output_bytes_ = 0;
    int stdout_fd_;
    int stderr_fd_;
    bool exited_ = false;
    std::optional<std::chrono::steady_clock::time_point> exited_at_;
    std::optional<SessionEnd> ended_;
};

}  // namespace faas::watchdog
