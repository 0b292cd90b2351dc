// The build set-up for each provider.
#include "build/make_builds.h"

#include "build/docker_builder.h"
#include "build/local_builder.h"
#include "provider/make_provider.h"
#include "settings.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;

class BuildsImpl final : public Builds {
  public:
    BuildsImpl(BuildManagerOptions options, const fs::path& root, std::unique_ptr<Builder> builder,
               FunctionProvider& provider)
        : store_(root),
          builder_(std::move(builder)),
          manager_(std::move(options), store_, *builder_, provider) {}
    BuildManager& manager() override { return manager_; }

  private:
    BuildStore store_;
    std::unique_ptr<Builder> builder_;
    BuildManager manager_;  // last: stopped before the builder and the store go
};

}  // namespace

std::unique_ptr<Builds> make_builds(const Config& config, const Env& env,
                                    FunctionProvider& provider) {
    if (!config.builds) return nullptr;
    std::unique_ptr<Builder> builder;
    if (config.provider == ProviderKind::kSwarm) {
        DockerBuilderOptions options;
        options.docker.socket_path = config.docker_socket;
        options.docker.timeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(config.docker_timeout);
        options.registry = config.build_registry;
        builder = std::make_unique<DockerBuilder>(std::move(options));
    } else {
        LocalBuilderOptions options;
        options.templates_dir = config.templates_dir;
        options.images_root = fs::path(config.state_dir) / "images";
        options.base_env = inherited_env(env);
        builder = std::make_unique<LocalBuilder>(std::move(options));
    }
    BuildManagerOptions options;
    options.served_namespace = config.function_namespace;
    options.templates_dir = config.templates_dir;
    options.limits.max_context_bytes = config.max_build_context_bytes;
    options.limits.archive.max_unpacked_bytes = config.max_build_unpacked_bytes;
    options.limits.archive.max_entries = config.max_build_files;
    options.max_builds = config.max_builds;
    options.build_timeout = config.build_timeout;
    options.kept_versions = config.kept_versions;
    options.max_replicas = config.max_replicas;
    return std::make_unique<BuildsImpl>(std::move(options), fs::path(config.state_dir) / "builds",
                                        std::move(builder), provider);
}

std::string describe_builds(const Config& config) {
    if (!config.builds) return "Builds from source: off";
    std::string where = config.templates_dir.empty() ? "no templates found (set templates_dir)"
                                                     : "templates in " + config.templates_dir;
    if (config.provider == ProviderKind::kSwarm)
        where += config.build_registry.empty() ? ", no registry (one node only)"
                                               : ", pushed to " + config.build_registry;
    return "Builds from source: " + where + ", " + std::to_string(config.max_builds) +
           " at once, build_timeout " + format_duration(config.build_timeout);
}

}  // namespace faas::gateway
