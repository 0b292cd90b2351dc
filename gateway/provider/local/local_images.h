// The local provider's "images": folders the local builder makes, one per built version
// (<root>/<function>/<version>/, holding the built context and a manifest saying how to run it),
// named by the image reference "<function>:<version>" that deployments carry.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace faas::gateway {

/// A built version: where it is and how its replicas run.
struct LocalImage {
    std::string image;  ///< "<function>:<version>".
    std::filesystem::path dir;
    std::string fprocess;
    std::map<std::string, std::string> env;  ///< The template's settings (mode, upstream_url).
    std::string lang;
    std::string built_at;  ///< RFC 3339.
    /// The template's install steps it was built with: what it installed is reused only by a
    /// build with the same steps.
    std::vector<std::string> install_steps;
};

/// The manifest in every image folder: {"image", "fprocess", "env", "lang", "builtAt",
/// "installSteps"}.
inline constexpr const char* kLocalImageManifest = ".faas-image.json";

/// Folders the local builder makes: <root>/<function>/<version>/, named by the image
/// "<function>:<version>". Holds no state but the root: safe to use from any thread.
class LocalImages {
  public:
    /// Creates `root`; throws ProviderUnavailable when it cannot.
    explicit LocalImages(std::filesystem::path root);

    const std::filesystem::path& root() const { return root_; }
    /// Where the version is (or will be). Throws std::invalid_argument unless both are plain
    /// names (letters, digits, '.', '_', '-'; not "." or ".."; not ending in ".tmp", which
    /// marks the builder's working folders).
    std::filesystem::path dir_for(const std::string& function, const std::string& version) const;
    /// nullopt when `image` is not "<name>:<tag>" with a folder and a readable manifest here.
    /// Strict: an image string from a deployment can never point outside the root.
    std::optional<LocalImage> find(const std::string& image) const;
    /// Every version of `function` found here, oldest first: "v<N>" by N, others by name
    /// after them. Empty for a name that is not plain.
    std::vector<LocalImage> versions(const std::string& function) const;
    /// Writes image.dir/kLocalImageManifest atomically (built_at defaults to now). Throws
    /// ProviderUnavailable when it cannot.
    void write_manifest(const LocalImage& image) const;
    /// Removes the image's folder, if `image` names one of ours; its function's folder too once
    /// empty.
    void remove(const std::string& image) const noexcept;

  private:
    std::filesystem::path root_;
};

}  // namespace faas::gateway
