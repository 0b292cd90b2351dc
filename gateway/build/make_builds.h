// Sets up builds from source for the provider the configuration names: the store under
// state_dir/builds, the builder (local folders, or the Docker Engine API on a Swarm) and the
// manager, so that main sees one object it can hand to the server.
#pragma once

#include <memory>

#include "build/build_manager.h"
#include "config.h"
#include "env.h"
#include "provider/function_provider.h"

namespace faas::gateway {

class Builds {
  public:
    virtual ~Builds() = default;
    virtual BuildManager& manager() = 0;
};

/// Null when builds are off (builds=false). Throws ProviderUnavailable when state_dir cannot
/// be used.
std::unique_ptr<Builds> make_builds(const Config& config, const Env& env,
                                    FunctionProvider& provider);

/// One line for the start-up log.
std::string describe_builds(const Config& config);

}  // namespace faas::gateway
