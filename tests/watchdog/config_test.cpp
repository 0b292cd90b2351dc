// Reading fwatchdog's settings: every variable, its default, and bad values.
#include "config.h"

#include <doctest/doctest.h>

#include "settings.h"

using namespace std::chrono_literals;
using faas::MapEnv;
using faas::watchdog::Mode;
using faas::watchdog::read_config;

namespace {
MapEnv env_with(std::map<std::string, std::string> values) {
    values.emplace("PATH", "/usr/bin:/bin");
    return MapEnv(std::move(values));
}

std::string error_variable(const MapEnv& env) {
    try {
        read_config(env);
    } catch (const faas::ConfigError& e) {
        return e.variable();
    }
    return "";
}
}  // namespace

TEST_CASE("defaults match the classic watchdog") {
    auto config = read_config(env_with({{"fprocess", "cat"}}));
    CHECK(config.argv.size() == 1);
    CHECK(config.argv[0].find("/cat") != std::string::npos);
    CHECK(config.mode == Mode::kSerializing);
    CHECK(config.port == 8080);
    CHECK(config.metrics_port == 8081);
    CHECK(config.read_timeout == 30s);
    CHECK(config.write_timeout == 30s);
    CHECK(config.exec_timeout == 0s);
    CHECK(config.healthcheck_interval == config.write_timeout);
    CHECK_FALSE(config.write_debug);
    CHECK(config.content_type.empty());
    CHECK_FALSE(config.marshal_request);
    CHECK(config.cgi_headers);
    CHECK(config.combine_output);
    CHECK_FALSE(config.suppress_lock);
    CHECK(config.max_inflight == 0);
    CHECK(config.max_request_bytes == 16u << 20);
    CHECK(config.max_response_bytes == 16u << 20);
    CHECK(config.lock_path == "/tmp/.lock");
    CHECK(config.bind_address == "0.0.0.0");
    CHECK(config.max_buffered_bytes == 256u << 20);
    CHECK(config.upstream.host == "127.0.0.1");
    CHECK(config.upstream.port == 8082);
}

TEST_CASE("every variable is read") {
    auto config = read_config(env_with({{"fprocess", "sh -c 'exit 3'"},
                                        {"mode", "http"},
                                        {"port", "9000"},
                                        {"metrics_port", "9001"},
                                        {"upstream_url", "http://localhost:5000/api/"},
                                        {"read_timeout", "500ms"},
                                        {"write_timeout", "5"},
                                        {"exec_timeout", "1m"},
                                        {"healthcheck_interval", "2s"},
                                        {"write_debug", "true"},
                                        {"content_type", "application/json"},
                                        {"marshal_request", "1"},
                                        {"cgi_headers", "false"},
                                        {"combine_output", "false"},
                                        {"suppress_lock", "true"},
                                        {"max_inflight", "7"},
                                        {"max_request_bytes", "1Mi"},
                                        {"max_response_bytes", "2048"},
                                        {"bind_address", "127.0.0.1"},
                                        {"max_buffered_bytes", "64Mi"},
                                        {"TMPDIR", "/var/tmp/replica-1/"}}));
    CHECK(config.argv == std::vector<std::string>{config.argv[0], "-c", "exit 3"});
    CHECK(config.mode == Mode::kHttp);
    CHECK(config.port == 9000);
    CHECK(config.metrics_port == 9001);
    CHECK(config.upstream.host == "localhost");
    CHECK(config.upstream.port == 5000);
    CHECK(config.upstream.base_path == "/api");
    CHECK(config.read_timeout == 500ms);
    CHECK(config.write_timeout == 5s);
    CHECK(config.exec_timeout == 60s);
    CHECK(config.healthcheck_interval == 2s);
    CHECK(config.write_debug);
    CHECK(config.content_type == "application/json");
    CHECK(config.marshal_request);
    CHECK_FALSE(config.cgi_headers);
    CHECK_FALSE(config.combine_output);
    CHECK(config.suppress_lock);
    CHECK(config.max_inflight == 7);
    CHECK(config.max_request_bytes == 1u << 20);
    CHECK(config.max_response_bytes == 2048u);
    CHECK(config.bind_address == "127.0.0.1");
    CHECK(config.max_buffered_bytes == 64u << 20);
    CHECK(config.lock_path == "/var/tmp/replica-1/.lock");
}

TEST_CASE("fprocess splitting: spaces, quotes, no shell") {
    using faas::watchdog::split_command;
    CHECK(split_command("python3 index.py") == std::vector<std::string>{"python3", "index.py"});
    CHECK(split_command("  wc   -l ") == std::vector<std::string>{"wc", "-l"});
    CHECK(split_command("sh -c 'echo $HOME; exit 3'") ==
          std::vector<std::string>{"sh", "-c", "echo $HOME; exit 3"});
    CHECK(split_command("echo \"a b\"c") == std::vector<std::string>{"echo", "a bc"});
    CHECK(split_command("echo ''") == std::vector<std::string>{"echo", ""});
    CHECK(split_command("echo 'unclosed").empty());
}

TEST_CASE("bad values name the variable") {
    CHECK(error_variable(env_with({})) == "fprocess");
    CHECK(error_variable(env_with({{"fprocess", "   "}})) == "fprocess");
    CHECK(error_variable(env_with({{"fprocess", "no-such-program-xyz"}})) == "fprocess");
    CHECK(error_variable(env_with({{"fprocess", "cat 'x"}})) == "fprocess");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"read_timeout", "soon"}})) ==
          "read_timeout");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"write_timeout", "-1s"}})) ==
          "write_timeout");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"write_timeout", "0"}})) ==
          "write_timeout");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"exec_timeout", "10x"}})) ==
          "exec_timeout");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"healthcheck_interval", "x"}})) ==
          "healthcheck_interval");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"port", "http"}})) == "port");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"port", "65536"}})) == "port");
    CHECK(error_variable(
              env_with({{"fprocess", "cat"}, {"port", "9000"}, {"metrics_port", "9000"}})) ==
          "metrics_port");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"mode", "afterburner"}})) == "mode");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"upstream_url", "https://x:1"}})) ==
          "upstream_url");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"upstream_url", "http://x:99999"}})) ==
          "upstream_url");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"write_debug", "yes"}})) == "write_debug");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"max_inflight", "-1"}})) ==
          "max_inflight");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"max_request_bytes", "lots"}})) ==
          "max_request_bytes");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"max_response_bytes", "0"}})) ==
          "max_response_bytes");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"bind_address", "localhost"}})) ==
          "bind_address");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"bind_address", "127.0.0.256"}})) ==
          "bind_address");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"bind_address", "[::1]"}})) ==
          "bind_address");
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"max_buffered_bytes", "lots"}})) ==
          "max_buffered_bytes");
    // Less than one call at the largest body and output.
    CHECK(error_variable(env_with({{"fprocess", "cat"}, {"max_buffered_bytes", "31Mi"}})) ==
          "max_buffered_bytes");
}

TEST_CASE("bind_address takes IPv4 and IPv6 literals") {
    for (const char* address : {"0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1"}) {
        CAPTURE(address);
        CHECK(
            read_config(env_with({{"fprocess", "cat"}, {"bind_address", address}})).bind_address ==
            address);
    }
}

TEST_CASE("max_buffered_bytes by default holds at least one call at its largest") {
    auto config = read_config(env_with(
        {{"fprocess", "cat"}, {"max_request_bytes", "200Mi"}, {"max_response_bytes", "100Mi"}}));
    CHECK(config.max_buffered_bytes == 300u << 20);
}
