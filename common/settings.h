// Parsing of settings read from the environment: durations, booleans, sizes, ports.
// Every getter names the variable in its error, so start-up can fail with one clear line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "env.h"

namespace faas {

/// A setting that is missing or cannot be used. Programs print what() and exit with code 2.
class ConfigError : public std::runtime_error {
  public:
    ConfigError(std::string variable, const std::string& message)
        : std::runtime_error(variable + ": " + message), variable_(std::move(variable)) {}
    const std::string& variable() const { return variable_; }

  private:
    std::string variable_;
};

/// Exit code for a bad setting.
inline constexpr int kConfigErrorExitCode = 2;

/// An integer is seconds ("30"); otherwise a Go-style duration ("500ms", "1m30s", "1.5h").
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);
/// Go's strconv.ParseBool set: 1 t T TRUE true True 0 f F FALSE false False.
std::optional<bool> parse_bool(std::string_view text);
/// Bytes, with an optional unit: "1048576", "512k", "16Mi", "16MiB", "1G" (k/M/G are 1024-based).
std::optional<std::uint64_t> parse_byte_size(std::string_view text);
std::optional<std::int64_t> parse_int(std::string_view text);

std::string get_string(const Env& env, const std::string& name, const std::string& fallback);
std::chrono::nanoseconds get_duration(const Env& env, const std::string& name,
                                      std::chrono::nanoseconds fallback);
bool get_bool(const Env& env, const std::string& name, bool fallback);
std::uint64_t get_byte_size(const Env& env, const std::string& name, std::uint64_t fallback);
std::int64_t get_int(const Env& env, const std::string& name, std::int64_t fallback,
                     std::int64_t min, std::int64_t max);
/// A TCP port, 0..65535 (0 asks the kernel for a free one).
int get_port(const Env& env, const std::string& name, int fallback);

/// "1.5s" style rendering for logs and messages.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace faas
