// The one failure type of the CLI: a message for the user (one line, no stack trace) and the
// exit code the process ends with. Thrown anywhere, caught once in app.cpp.
#pragma once

#include <stdexcept>
#include <string>

namespace faas::cli {

/// Exit codes: 1 for a failure (gateway said no, build failed), 2 for bad usage.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class CliError : public std::runtime_error {
  public:
    explicit CliError(const std::string& message, int exit_code = kExitFailure)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

/// Bad flags or arguments: the message, then a pointer to `faas <command> --help`.
class UsageError : public CliError {
  public:
    explicit UsageError(const std::string& message) : CliError(message, kExitUsage) {}
};

}  // namespace faas::cli
