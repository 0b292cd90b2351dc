// Running another program (docker, git) from the CLI: argv without a shell, optional text on its
// stdin, stdout and stderr merged and handed over line by line (so `build` can prefix each line
// with the function's name) or captured. The child runs in a process group of its own, which is
// killed and reaped if the caller leaves early (an exception from the line callback).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.h"

namespace faas::cli {

/// The program could not be started at all (not on PATH, not executable).
class SpawnError : public CliError {
  public:
    SpawnError(const std::string& message, int error_number)
        : CliError(message), error_number_(error_number) {}
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
    /// The child's working folder; empty: this process's.
    std::filesystem::path working_dir;
    /// Called with each line of output (stdout and stderr merged, line end removed). Without it
    /// the output is captured into ProcessResult::output, up to kMaxCapturedOutput bytes.
    std::function<void(std::string_view line)> on_line;
};

struct ProcessResult {
    /// The exit status; 128+N when killed by signal N.
    int exit_code = 0;
    /// Everything it wrote, when no on_line callback was given.
    std::string output;
};

/// Captured output beyond this is dropped (a runaway child cannot exhaust memory).
inline constexpr size_t kMaxCapturedOutput = 16 * 1024 * 1024;
/// A line longer than this is handed over in pieces of this size.
inline constexpr size_t kMaxLineLength = 64 * 1024;

/// Runs `argv` (argv[0] is looked up on PATH) to completion. Throws SpawnError if it cannot be
/// started; a non-zero exit is a result, not an exception.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace faas::cli
