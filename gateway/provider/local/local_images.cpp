// Image folders and their manifests. Every path is made from a checked "<name>:<tag>", and a
// folder is used only when it is a real folder (not a symbolic link) under the root.
#include "provider/local/local_images.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "errors.h"
#include "provider/local/state_store.h"
#include "time_format.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// A manifest is a few hundred bytes; anything much larger is not one of ours.
constexpr std::uintmax_t kMaxManifestBytes = 1024 * 1024;

/// The suffix of the local builder's working folders, which are never images.
constexpr std::string_view kWorkSuffix = ".tmp";

/// One path component that cannot climb out or name something else: no '/', no "..", not a
/// builder's working folder.
bool is_plain_name(const std::string& name) {
    if (name.empty() || name.size() > 253 || name == "." || name == "..") return false;
    if (name.size() >= kWorkSuffix.size() &&
        name.compare(name.size() - kWorkSuffix.size(), kWorkSuffix.size(), kWorkSuffix) == 0)
        return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/// "<name>:<tag>" split into plain parts, or nullopt.
std::optional<std::pair<std::string, std::string>> split_image(const std::string& image) {
    const auto colon = image.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string name = image.substr(0, colon);
    std::string tag = image.substr(colon + 1);
    if (!is_plain_name(name) || !is_plain_name(tag)) return std::nullopt;
    return std::make_pair(std::move(name), std::move(tag));
}

bool is_real_directory(const fs::path& path) {
    std::error_code ec;
    return fs::symlink_status(path, ec).type() == fs::file_type::directory;
}

std::optional<std::string> read_small_file(const fs::path& path) {
    std::error_code ec;
    if (fs::symlink_status(path, ec).type() != fs::file_type::regular) return std::nullopt;
    if (fs::file_size(path, ec) > kMaxManifestBytes || ec) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text(kMaxManifestBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return std::nullopt;
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxManifestBytes) return std::nullopt;
    return text;
}

/// The string at `key`, "" when absent; throws (json's type_error) when it is not a string.
std::string string_at(const json& object, const char* key) {
    const auto it = object.find(key);
    return it == object.end() ? std::string() : it->get<std::string>();
}

}  // namespace

LocalImages::LocalImages(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec || !fs::is_directory(root_, ec))
        throw ProviderUnavailable("cannot create the image folder " + root_.string() +
                                  (ec ? ": " + ec.message() : std::string()));
}

fs::path LocalImages::dir_for(const std::string& function, const std::string& version) const {
    if (!is_plain_name(function) || !is_plain_name(version))
        throw std::invalid_argument("not an image name: " + function + ":" + version);
    return root_ / function / version;
}

std::optional<LocalImage> LocalImages::find(const std::string& image) const {
    const auto parts = split_image(image);
    if (!parts) return std::nullopt;
    const fs::path function_dir = root_ / parts->first;
    const fs::path dir = function_dir / parts->second;
    if (!is_real_directory(function_dir) || !is_real_directory(dir)) return std::nullopt;
    const auto text = read_small_file(dir / kLocalImageManifest);
    if (!text) return std::nullopt;
    try {
        const json manifest = json::parse(*text);
        if (!manifest.is_object() || string_at(manifest, "image") != image) return std::nullopt;
        LocalImage found;
        found.image = image;
        found.dir = dir;
        found.fprocess = string_at(manifest, "fprocess");
        found.lang = string_at(manifest, "lang");
        found.built_at = string_at(manifest, "builtAt");
        if (const auto env = manifest.find("env"); env != manifest.end())
            found.env = env->get<std::map<std::string, std::string>>();
        if (const auto steps = manifest.find("installSteps"); steps != manifest.end())
            found.install_steps = steps->get<std::vector<std::string>>();
        return found;
    } catch (const json::exception&) {
        return std::nullopt;  // Not a manifest this gateway wrote.
    }
}

std::vector<LocalImage> LocalImages::versions(const std::string& function) const {
    std::vector<LocalImage> found;
    const fs::path function_dir = root_ / function;
    if (!is_plain_name(function) || !is_real_directory(function_dir)) return found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(function_dir, ec)) {
        const std::string version = entry.path().filename().string();
        if (!is_plain_name(version)) continue;
        if (auto image = find(function + ":" + version)) found.push_back(std::move(*image));
    }
    // "v12" after "v9": the build manager numbers its versions.
    const auto number = [](const LocalImage& image) -> long long {
        const auto tag = image.image.substr(image.image.find(':') + 1);
        if (tag.size() < 2 || tag.size() > 18 || tag[0] != 'v') return -1;
        long long n = 0;
        for (size_t i = 1; i < tag.size(); ++i) {
            if (tag[i] < '0' || tag[i] > '9') return -1;
            n = n * 10 + (tag[i] - '0');
        }
        return n;
    };
    std::sort(found.begin(), found.end(), [&](const LocalImage& a, const LocalImage& b) {
        const auto na = number(a);
        const auto nb = number(b);
        if ((na < 0) != (nb < 0)) return na >= 0;
        return na != nb ? na < nb : a.image < b.image;
    });
    return found;
}

void LocalImages::write_manifest(const LocalImage& image) const {
    // The folder holds an untrusted build context: a link under either name must not be
    // followed when the file is written.
    const fs::path file = image.dir / kLocalImageManifest;
    std::error_code ec;
    fs::remove(file, ec);
    fs::remove(fs::path(file) += ".tmp", ec);
    const json manifest = {
        {"image", image.image},
        {"fprocess", image.fprocess},
        {"env", image.env},
        {"lang", image.lang},
        {"builtAt", image.built_at.empty() ? rfc3339_now() : image.built_at},
        {"installSteps", image.install_steps},
    };
    write_file_atomically(file.string(), manifest.dump(2) + "\n", 0644);
}

void LocalImages::remove(const std::string& image) const noexcept {
    const auto parts = split_image(image);
    if (!parts) return;
    const fs::path function_dir = root_ / parts->first;
    const fs::path dir = function_dir / parts->second;
    if (!is_real_directory(function_dir) || !is_real_directory(dir)) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
    // Only removes an empty folder: another version (or a build in progress) keeps it.
    fs::remove(function_dir, ec);
}

}  // namespace faas::gateway
