// Environment access for production (OsEnv) and tests (MapEnv).
#include "env.h"

#include <cstdlib>

namespace faas {

std::optional<std::string> OsEnv::get(const std::string& name) const {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

std::optional<std::string> MapEnv::get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

}  // namespace faas
