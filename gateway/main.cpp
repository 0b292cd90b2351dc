// The gateway program: read config, pick the provider, listen, drain on SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <thread>

#include "config.h"
#include "env.h"
#include "log.h"
#include "provider/local_provider.h"
#include "provider/swarm_provider.h"
#include "server.h"
#include "settings.h"

namespace {

std::string self_path() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0) return {};
    return std::string(buffer, static_cast<std::size_t>(n));
}

std::map<std::string, std::string> inherited_env(const faas::Env& env) {
    std::map<std::string, std::string> out;
    for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"})
        if (auto value = env.get(name)) out[name] = *value;
    if (!out.count("PATH")) out["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    return out;
}

}  // namespace

int main() {
    using namespace faas::gateway;
    limit_malloc_arenas();
    ::signal(SIGPIPE, SIG_IGN);
    faas::OsEnv env;
    Config config;
    std::optional<BasicAuth> auth;
    try {
        config = read_config(env, self_path());
        if (config.basic_auth) auth = BasicAuth::from_files(config.secret_mount_path);
    } catch (const faas::ConfigError& e) {
        faas::log_line(std::string("Invalid configuration: ") + e.what());
        return faas::kConfigErrorExitCode;
    }

    // Every thread started from here on inherits the mask, so only the signal thread sees these.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::unique_ptr<FunctionProvider> provider;
    try {
        if (config.provider == ProviderKind::kSwarm) {
            SwarmProviderOptions options;
            options.docker.socket_path = config.docker_socket;
            options.docker.timeout =
                std::chrono::duration_cast<std::chrono::milliseconds>(config.docker_timeout);
            options.network = config.functions_network;
            options.function_namespace = config.function_namespace;
            options.max_replicas = config.max_replicas;
            provider = std::make_unique<SwarmProvider>(std::move(options));
        } else {
            LocalProviderOptions options;
            options.state_dir = config.state_dir;
            options.watchdog_path = config.watchdog_path;
            options.function_namespace = config.function_namespace;
            options.max_replicas = config.max_replicas;
            options.base_env = inherited_env(env);
            provider = std::make_unique<LocalProvider>(std::move(options));
        }
    } catch (const ProviderUnavailable& e) {
        faas::log_line(std::string("Invalid configuration: ") + e.what());
        return faas::kConfigErrorExitCode;
    }

    GatewayServer server(config, *provider, std::move(auth));
    int port = server.bind("0.0.0.0", config.port);
    if (port < 0) {
        faas::log_line("Cannot listen on port " + std::to_string(config.port));
        provider->shutdown();
        return 1;
    }
    if (config.provider == ProviderKind::kSwarm)
        faas::log_line("Provider: faas-swarm, Docker engine at " + config.docker_socket +
                       ", functions network " +
                       (config.functions_network.empty() ? std::string("labelled openfaas=true")
                                                         : config.functions_network));
    else
        faas::log_line("Provider: faas-local, state in " + config.state_dir + ", watchdog " +
                       config.watchdog_path);
    faas::log_line("Listening on port: " + std::to_string(port));

    std::thread signals([&] {
        int received = 0;
        sigwait(&stop_signals, &received);
        faas::log_line(std::string("Received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
                       ": draining");
        server.drain_and_stop(config.write_timeout);
    });
    server.listen();
    // listen() also returns on failure; make sure the signal thread is released either way.
    ::kill(::getpid(), SIGTERM);
    signals.join();
    provider->shutdown();
    faas::log_line("Stopped");
    return 0;
}
