// Basic authentication.
#include "auth.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base64.h"
#include "settings.h"

namespace faas::gateway {
namespace {

std::string read_secret_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError("secret_mount_path", "cannot read " + path.string());
    std::stringstream content;
    content << in.rdbuf();
    std::string value = content.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) throw ConfigError("secret_mount_path", path.string() + " is empty");
    return value;
}

}  // namespace

BasicAuth::BasicAuth(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {}

BasicAuth BasicAuth::from_files(const std::string& secret_mount_path) {
    std::filesystem::path dir(secret_mount_path);
    auto user = read_secret_file(dir / "basic-auth-user");
    auto password = read_secret_file(dir / "basic-auth-password");
    return BasicAuth(std::move(user), std::move(password));
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    // Walk the longer input completely; a length mismatch is folded into the result.
    std::size_t length = a.size() > b.size() ? a.size() : b.size();
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < length; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

bool BasicAuth::allows(std::string_view authorization) const {
    constexpr std::string_view kScheme = "Basic ";
    if (authorization.size() <= kScheme.size()) return false;
    for (std::size_t i = 0; i < kScheme.size() - 1; ++i)
        if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
            std::tolower(static_cast<unsigned char>(kScheme[i])))
            return false;
    if (authorization[kScheme.size() - 1] != ' ') return false;
    auto decoded = faas::base64_decode(authorization.substr(kScheme.size()));
    if (!decoded) return false;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    // Both halves are always compared, so a wrong user costs the same as a wrong password.
    bool user_ok = constant_time_equals(std::string_view(*decoded).substr(0, colon), user_);
    bool password_ok =
        constant_time_equals(std::string_view(*decoded).substr(colon + 1), password_);
    return user_ok & password_ok;
}

}  // namespace faas::gateway
