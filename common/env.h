// The seam through which every setting is read, so tests can hand a map instead of the
// process environment.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace faas {

/// Read-only view of environment variables.
class Env {
  public:
    virtual ~Env() = default;
    /// The value of `name`, or nullopt when it is not set at all (set-but-empty is "").
    virtual std::optional<std::string> get(const std::string& name) const = 0;
};

/// The real process environment.
class OsEnv final : public Env {
  public:
    std::optional<std::string> get(const std::string& name) const override;
};

/// A fixed map, for tests.
class MapEnv final : public Env {
  public:
    MapEnv() = default;
    explicit MapEnv(std::map<std::string, std::string> values) : values_(std::move(values)) {}
    std::optional<std::string> get(const std::string& name) const override;
    void set(const std::string& name, std::string value) { values_[name] = std::move(value); }

  private:
    std::map<std::string, std::string> values_;
};

}  // namespace faas
