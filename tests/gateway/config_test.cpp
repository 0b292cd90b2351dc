// Gateway settings from the environment.
#include "config.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "settings.h"
#include "support/process.h"

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

std::string fake_watchdog(const faas::test::TempDir& dir) {
    std::string path = dir.path() + "/fwatchdog";
    std::ofstream(path) << "#!/bin/sh\n";
    ::chmod(path.c_str(), 0755);
    return path;
}

}  // namespace

TEST_CASE("defaults follow OpenFaaS") {
    faas::test::TempDir dir;
    faas::MapEnv env({{"watchdog_path", fake_watchdog(dir)}});
    auto config = read_config(env);
    CHECK(config.port == 8080);
    CHECK(config.basic_auth == false);
    CHECK(config.function_namespace == "openfaas-fn");
    CHECK(config.provider == ProviderKind::kLocal);
    CHECK(config.upstream_timeout == 60s);
}

TEST_CASE("values are read and durations accept seconds or Go durations") {
    faas::test::TempDir dir;
    faas::MapEnv env({{"watchdog_path", fake_watchdog(dir)},
                      {"port", "9999"},
                      {"read_timeout", "5"},
                      {"write_timeout", "1m"},
                      {"upstream_timeout", "1500ms"},
                      {"basic_auth", "true"},
                      {"secret_mount_path", "/tmp/s"},
                      {"function_namespace", "fns"},
                      {"state_dir", "/tmp/state"},
                      {"load_balancing", "least_inflight"}});
    auto config = read_config(env);
    CHECK(config.port == 9999);
    CHECK(config.read_timeout == 5s);
    CHECK(config.write_timeout == 60s);
    CHECK(config.upstream_timeout == 1500ms);
    CHECK(config.basic_auth);
    CHECK(config.secret_mount_path == "/tmp/s");
    CHECK(config.function_namespace == "fns");
    CHECK(config.state_dir == "/tmp/state");
    CHECK(config.balancing == BalancingPolicy::kLeastInflight);
}

TEST_CASE("bad values name the variable") {
    faas::test::TempDir dir;
    auto watchdog = fake_watchdog(dir);
    std::vector<std::pair<std::string, std::string>> bad = {{"port", "70000"},
                                                            {"port", "http"},
                                                            {"read_timeout", "soon"},
                                                            {"upstream_timeout", "0"},
                                                            {"basic_auth", "yes"},
                                                            {"function_namespace", "Bad_NS"},
                                                            {"provider", "kubernetes"},
                                                            {"load_balancing", "random"},
                                                            {"max_request_bytes", "lots"},
                                                            {"record_calls", "sync"},
                                                            {"sync_records_kept", "5"}};
    for (const auto& [name, value] : bad) {
        CAPTURE(name);
        faas::MapEnv env({{"watchdog_path", watchdog}, {name, value}});
        try {
            read_config(env);
            FAIL("accepted a bad value");
        } catch (const faas::ConfigError& e) {
            CHECK(e.variable() == name);
        }
    }
}

TEST_CASE("watchdog_path: explicit must exist, default is beside the gateway, then PATH") {
    faas::test::TempDir dir;
    auto watchdog = fake_watchdog(dir);
    faas::MapEnv missing({{"watchdog_path", dir.path() + "/nope"}});
    CHECK_THROWS_AS(read_config(missing), faas::ConfigError);

    faas::MapEnv beside(std::map<std::string, std::string>{{"PATH", "/nonexistent"}});
    CHECK(read_config(beside, dir.path() + "/gateway").watchdog_path == watchdog);

    faas::MapEnv on_path({{"PATH", "/nonexistent:" + dir.path()}});
    CHECK(read_config(on_path, "/elsewhere/gateway").watchdog_path == watchdog);

    faas::MapEnv nowhere(std::map<std::string, std::string>{{"PATH", "/nonexistent"}});
    CHECK_THROWS_AS(read_config(nowhere, "/elsewhere/gateway"), faas::ConfigError);
}

TEST_CASE("max_build_context_bytes follows a smaller max_request_bytes unless set above it") {
    faas::test::TempDir dir;
    auto watchdog = fake_watchdog(dir);
    faas::MapEnv small({{"watchdog_path", watchdog}, {"max_request_bytes", "1Mi"}});
    CHECK(read_config(small).max_build_context_bytes == (1ULL << 20));
    faas::MapEnv defaults({{"watchdog_path", watchdog}});
    CHECK(read_config(defaults).max_build_context_bytes == (20ULL << 20));
    faas::MapEnv above({{"watchdog_path", watchdog},
                        {"max_request_bytes", "1Mi"},
                        {"max_build_context_bytes", "2Mi"}});
    CHECK_THROWS_AS(read_config(above), faas::ConfigError);
}

TEST_CASE("record_calls: async by default, all records synchronous calls too") {
    faas::test::TempDir dir;
    auto watchdog = fake_watchdog(dir);
    faas::MapEnv defaults({{"watchdog_path", watchdog}});
    CHECK_FALSE(read_config(defaults).record_sync_calls);
    CHECK(read_config(defaults).sync_records_kept == 10000);
    faas::MapEnv all(
        {{"watchdog_path", watchdog}, {"record_calls", "all"}, {"sync_records_kept", "500"}});
    CHECK(read_config(all).record_sync_calls);
    CHECK(read_config(all).sync_records_kept == 500);
}
