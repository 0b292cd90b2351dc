// The gateway program: read config, make the provider, listen, drain on SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <thread>

#include "async/make_async.h"
#include "build/make_builds.h"
#include "config.h"
#include "env.h"
#include "log.h"
#include "provider/make_provider.h"
#include "server.h"
#include "settings.h"
#include "stop_signals.h"

namespace {

std::string self_path() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0) return {};
    return std::string(buffer, static_cast<std::size_t>(n));
}

int invalid_configuration(const std::exception& e) {
    faas::log_line(std::string("Invalid configuration: ") + e.what());
    return faas::kConfigErrorExitCode;
}

}  // namespace

int main() {
    using namespace faas::gateway;
    limit_malloc_arenas();
    ::signal(SIGPIPE, SIG_IGN);
    faas::OsEnv env;
    Config config;
    std::optional<BasicAuth> auth;
    std::unique_ptr<FunctionProvider> provider;
    std::unique_ptr<Builds> builds;
    AsyncSetup async;
    faas::StopSignals stop_signals;  // Before any thread starts (the provider's too).
    try {
        config = read_config(env, self_path());
        if (config.basic_auth) auth = BasicAuth::from_files(config.secret_mount_path);
        provider = make_provider(config, env);
        builds = make_builds(config, env, *provider);
        async = make_async(config, *provider);
    } catch (const faas::ConfigError& e) {
        return invalid_configuration(e);
    } catch (const ProviderUnavailable& e) {  // e.g. a state_dir it cannot use
        return invalid_configuration(e);
    }

    GatewayServer server(config, *provider, std::move(auth), builds ? &builds->manager() : nullptr,
                         async.calls.get());
    if (async.queue_metrics) server.include_metrics(async.queue_metrics->gauges().registry());
    if (async.recorder) server.record_calls(*async.recorder);
    int port = server.bind("0.0.0.0", config.port);
    if (port < 0) {
        faas::log_line("Cannot listen on port " + std::to_string(config.port));
        return 1;
    }
    faas::log_line(describe_provider(config));
    faas::log_line(describe_builds(config));
    faas::log_line(async.description);
    if (async.local) {
        async.local->set_gateway_port(port);
        // Calls queued before a restart need their worker now, not at the next async call.
        if (async.local->has_store()) async.local->start();
    }
    faas::log_line("Listening on port: " + std::to_string(port));

    std::thread signals([&] {
        int received = stop_signals.wait();
        faas::log_line(std::string("Received ") + faas::StopSignals::name(received) + ": draining");
        server.drain_and_stop(config.write_timeout);
    });
    server.listen();
    // listen() also returns on failure; make sure the signal thread is released either way.
    ::kill(::getpid(), SIGTERM);
    signals.join();
    if (builds) builds->manager().stop();
    async.recorder.reset();  // stores the last records while NATS is still up
    if (async.local) async.local->stop();
    provider->shutdown();
    faas::log_line("Stopped");
    return 0;
}
