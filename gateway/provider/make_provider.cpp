// The provider factory.
#include "provider/make_provider.h"

#include "provider/local/local_provider.h"
#include "provider/local/secret_mounts.h"
#include "provider/swarm/swarm_provider.h"

namespace faas::gateway {

std::map<std::string, std::string> inherited_env(const Env& env) {
    std::map<std::string, std::string> out;
    for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"})
        if (auto value = env.get(name)) out[name] = *value;
    if (!out.count("PATH")) out["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    return out;
}

std::unique_ptr<FunctionProvider> make_provider(const Config& config, const Env& env) {
    if (config.provider == ProviderKind::kSwarm) {
        SwarmProviderOptions options;
        options.docker.socket_path = config.docker_socket;
        options.docker.timeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(config.docker_timeout);
        options.network = config.functions_network;
        options.function_namespace = config.function_namespace;
        options.max_replicas = config.max_replicas;
        return std::make_unique<SwarmProvider>(std::move(options));
    }
    LocalProviderOptions options;
    options.state_dir = config.state_dir;
    options.watchdog_path = config.watchdog_path;
    options.function_namespace = config.function_namespace;
    options.max_replicas = config.max_replicas;
    options.base_env = inherited_env(env);
    options.mount_secrets = secret_mounts_available();
    return std::make_unique<LocalProvider>(std::move(options));
}

std::string describe_provider(const Config& config) {
    if (config.provider == ProviderKind::kSwarm)
        return "Provider: faas-swarm, Docker engine at " + config.docker_socket +
               ", functions network " +
               (config.functions_network.empty() ? std::string("labelled openfaas=true")
                                                 : config.functions_network);
    std::string why;
    const auto secrets = secret_mounts_available(&why)
                             ? std::string(", secrets at ") + kFunctionSecretsPath
                             : ", secrets in each replica's folder (" + why + ")";
    return "Provider: faas-local, state in " + config.state_dir + ", watchdog " +
           config.watchdog_path + secrets;
}

}  // namespace faas::gateway
