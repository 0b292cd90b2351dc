// Running another program (docker, git, a template's install step): argv without a shell,
// optional text on its stdin, stdout and stderr merged and handed over line by line or captured.
// The child runs in a process group of its own, which is killed and reaped if the caller leaves
// early (an exception from the line callback) or asks it to stop (keep_going).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace faas {

/// The program could not be started at all (not on PATH, not executable, no pipe).
class SpawnError : public std::runtime_error {
  public:
    SpawnError(const std::string& message, int error_number)
        : std::runtime_error(message), error_number_(error_number) {}
    /// The errno of the failure: ENOENT when the program does not exist.
    int error_number() const { return error_number_; }

  private:
    int error_number_;
};

struct ProcessOptions {
    /// Written to the child's stdin, which is then closed; without it stdin is /dev/null.
    std::optional<std::string> stdin_text;
    /// Set (or replaced) in the child's environment, which is otherwise this process's.
    std::map<std::string, std::string> environment;
    /// False: the child's environment is `environment` alone, nothing of this process's (a
    /// build step of untrusted code must not see the gateway's own settings).
    bool inherit_environment = true;
    /// The child's working folder; empty: this process's.
    std::filesystem::path working_dir;
    /// Called with each line of output (stdout and stderr merged, line end removed). Without it
    /// the output is captured into ProcessResult::output, up to kMaxCapturedOutput bytes.
    std::function<void(std::string_view line)> on_line;
    /// Asked at least every 200 ms while the child runs; once it returns false the child's
    /// whole process group is killed and reaped, and the result says `stopped`.
    std::function<bool()> keep_going;
};

struct ProcessResult {
    /// The exit status; 128+N when killed by signal N.
    int exit_code = 0;
    /// Everything it wrote, when no on_line callback was given.
    std::string output;
    /// keep_going returned false and the child was killed.
    bool stopped = false;
};

/// Captured output beyond this is dropped (a runaway child cannot exhaust memory).
inline constexpr std::size_t kMaxCapturedOutput = 16 * 1024 * 1024;
/// A line longer than this is handed over in pieces of this size.
inline constexpr std::size_t kMaxLineLength = 64 * 1024;
/// The longest wait between two calls of ProcessOptions::keep_going.
inline constexpr int kKeepGoingPollMs = 100;

/// Runs `argv` (argv[0] is looked up on this process's PATH) to completion. Throws SpawnError if
/// it cannot be started; a non-zero exit is a result, not an exception.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace faas
