// The builder of the local provider: a build is a folder per version under the image root,
// holding the build context, in which the template's `local:` install step ran; a manifest
// says how the replicas run from it. No Docker: the runtime must be on the gateway's host.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "build/builder.h"
#include "function_template.h"
#include "provider/local/local_images.h"

namespace faas::gateway {

struct LocalBuilderOptions {
    /// The gateway's templates, one folder per lang. The recipe of a build always comes from
    /// here, never from the (untrusted) context's own template.yml.
    std::filesystem::path templates_dir;
    /// Where the versions go (the local provider's state_dir/images).
    std::filesystem::path images_root;
    /// The environment the build steps start from, as the gateway's replicas get it (PATH,
    /// LANG, ...); nothing else of the gateway's own environment reaches them.
    std::map<std::string, std::string> base_env;
    /// How long a template's `check` command may take.
    std::chrono::seconds check_timeout{10};
    /// How long a passed check(lang) is trusted before it runs again.
    std::chrono::seconds check_cache_for{60};
};

class LocalBuilder final : public Builder {
  public:
    /// Creates the image root; throws ProviderUnavailable when it cannot.
    explicit LocalBuilder(LocalBuilderOptions options);

    /// Throws BadRequest: an unknown lang (listing the known ones), a template without a
    /// `local:` section, a required program not on base_env's PATH, a failing `check`.
    void check(const std::string& lang) const override;
    /// Unpacks into <root>/<function>/<version>.tmp, runs install then test, writes the
    /// manifest, and renames the folder to <root>/<function>/<version>. Returns
    /// "<function>:<version>". Throws BuildFailed or BuildStopped (and leaves nothing behind).
    std::string build(const BuildJob& job, BuildProgress& progress) override;
    void forget(const std::string& image) noexcept override;

  private:
    /// The template for `lang` after every check of check(); throws BadRequest or
    /// ProviderUnavailable.
    TemplateInfo usable_template(const std::string& lang) const;
    void run_check_command(const TemplateInfo& tmpl) const;

    const LocalBuilderOptions options_;
    const LocalImages images_;
    mutable std::mutex checked_mutex_;
    /// When check(lang) last passed, by lang.
    mutable std::map<std::string, std::chrono::steady_clock::time_point> checked_;
};

}  // namespace faas::gateway
