// Basic authentication for /system/*: credentials read from files (as OpenFaaS mounts them),
// compared in time independent of where they differ.
#pragma once

#include <string>
#include <string_view>

namespace faas::gateway {

class BasicAuth {
  public:
    BasicAuth(std::string user, std::string password);
    /// Reads `basic-auth-user` and `basic-auth-password` from `secret_mount_path` (trailing
    /// newlines trimmed). Throws faas::ConfigError when a file is missing or empty.
    static BasicAuth from_files(const std::string& secret_mount_path);

    /// True when `authorization` (the header value) carries exactly these credentials.
    bool allows(std::string_view authorization) const;

    const std::string& user() const { return user_; }

  private:
    std::string user_;
    std::string password_;
};

/// Compares without an early exit, so the time taken says nothing about the secret.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace faas::gateway
