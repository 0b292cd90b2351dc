// The provider factory: the provider the config names, and its start-up line.
#include "provider/make_provider.h"

#include <doctest/doctest.h>

#include "support/process.h"

using namespace faas::gateway;

TEST_CASE("make_provider builds the provider the config names") {
    faas::test::TempDir state;
    faas::MapEnv env(std::map<std::string, std::string>{{"PATH", "/usr/bin"}});
    Config config;
    config.state_dir = state.path();
    config.watchdog_path = "/bin/true";
    auto local = make_provider(config, env);
    CHECK(local->info().provider == "faas-local");
    // Then where the replicas see their secrets, which depends on running as root.
    CHECK(describe_provider(config).rfind(
              "Provider: faas-local, state in " + state.path() + ", watchdog /bin/true, secrets ",
              0) == 0);

    config.provider = ProviderKind::kSwarm;
    config.docker_socket = state.path() + "/no-docker.sock";
    config.docker_timeout = std::chrono::milliseconds(200);
    auto swarm = make_provider(config, env);
    CHECK(swarm->info().provider == "faas-swarm");
    CHECK(describe_provider(config) == "Provider: faas-swarm, Docker engine at " +
                                           config.docker_socket +
                                           ", functions network labelled openfaas=true");
}

TEST_CASE("a state directory that cannot be used is ProviderUnavailable") {
    faas::MapEnv env;
    Config config;
    config.state_dir = "/proc/version/state";  // below a file: cannot be created
    config.watchdog_path = "/bin/true";
    CHECK_THROWS_AS(make_provider(config, env), ProviderUnavailable);
}
