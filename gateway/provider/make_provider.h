// Picks and builds the provider the configuration names, so that main and the server see only
// the FunctionProvider interface.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config.h"
#include "env.h"
#include "provider/function_provider.h"

namespace faas::gateway {

/// The provider `config.provider` names, set up from the config; `env` gives the variables
/// local replicas inherit (PATH, HOME, LANG, LC_ALL, TZ, USER). Throws ProviderUnavailable
/// when it cannot start (a state_dir that cannot be used).
std::unique_ptr<FunctionProvider> make_provider(const Config& config, const Env& env);

/// The variables local replicas and local builds inherit from the gateway (PATH, HOME,
/// LANG, LC_ALL, TZ, USER; PATH has a default).
std::map<std::string, std::string> inherited_env(const Env& env);

/// One line for the start-up log: which provider, and what it runs on.
std::string describe_provider(const Config& config);

}  // namespace faas::gateway
