// invoke (every flag) and logs against real fwatchdog replicas behind the gateway.
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cli_gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// The value of NAME in `env`-style output ("NAME=value" lines), or "<unset>".
std::string env_value(const std::string& output, const std::string& name) {
    for (const auto& line : lines_of(output))
        if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
    return "<unset>";
}

}  // namespace

TEST_CASE("invoke: stdin is the body, -H, --query, --method, --content-type reach the function") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    REQUIRE(cli.run({"deploy", "--image", "x", "--name", "env", "--fprocess", "env"}).code == 0);
    REQUIRE(cli.run({"deploy", "--image", "x", "--name", "echo", "--fprocess", "cat"}).code == 0);

    const std::string binary("a\0b\xff\n", 5);
    auto echoed = cli.run({"invoke", "echo"}, binary);
    CHECK(echoed.code == 0);
    CHECK(echoed.out == binary);  // byte for byte, no newline added
    CHECK(echoed.err.empty());

    auto plain = cli.run({"invoke", "env"}, "body");
    REQUIRE(plain.code == 0);
    CHECK(env_value(plain.out, "Http_Method") == "POST");
    CHECK(env_value(plain.out, "Http_Content_Type") == "text/plain");
    CHECK(env_value(plain.out, "Http_Query") == "");
    CHECK(env_value(plain.out, "Http_Content_Length") == "4");

    auto flagged =
        cli.run({"invoke", "env", "-H", "X-Test=yes", "--header", "X-Other=a=b", "--query", "a=1",
                 "--query", "b=x y&z", "--method", "put", "--content-type", "application/json"},
                "{}");
    INFO(flagged);
    REQUIRE(flagged.code == 0);
    CHECK(env_value(flagged.out, "Http_X_Test") == "yes");
    CHECK(env_value(flagged.out, "Http_X_Other") == "a=b");
    CHECK(env_value(flagged.out, "Http_Query") == "a=1&b=x%20y%26z");
    CHECK(env_value(flagged.out, "Http_Method") == "PUT");
    CHECK(env_value(flagged.out, "Http_Content_Type") == "application/json");

    auto get = cli.run({"invoke", "env", "-m", "GET", "-H", "Content-Type=text/csv"});
    REQUIRE(get.code == 0);
    CHECK(env_value(get.out, "Http_Method") == "GET");
    CHECK(env_value(get.out, "Http_Content_Type") == "text/csv");

    auto verbose = cli.run({"invoke", "echo", "-v"}, "v");
    CHECK(verbose.out == "v");
    CHECK(contains(verbose.err, "< POST /function/echo: 200\n"));
    CHECK(contains(verbose.err, "< x-call-id: "));

    auto in_namespace = cli.run({"invoke", "echo", "-n", "openfaas-fn"}, "ns");
    CHECK(in_namespace.code == 0);
    CHECK(in_namespace.out == "ns");
    auto other_namespace = cli.run({"invoke", "echo", "-n", "elsewhere"}, "ns");
    CHECK(other_namespace.code == 1);
    CHECK(contains(other_namespace.err, "Server returned unexpected status code: 404"));

    auto ghost = cli.run({"invoke", "ghost"}, "x");
    CHECK(ghost.code == 1);
    CHECK(ghost.out.empty());
    CHECK(ghost.err ==
          "faas: Server returned unexpected status code: 404 - Cannot find service: ghost.\n");

    CHECK(cli.run({"invoke"}).code == 2);
    CHECK(cli.run({"invoke", "echo", "-H", "novalue"}).code == 2);
    CHECK(cli.run({"invoke", "echo", "--method", "GET /x"}).code == 2);
}

TEST_CASE("invoke: a function's failure is a non-zero exit with its status and message") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    TempDir scripts;
    const auto failing = write_script(scripts, "fail.sh", "echo 'went wrong' >&2\nexit 3\n");
    REQUIRE(
        cli.run({"deploy", "--image", "x", "--name", "fail", "--fprocess", "sh " + failing}).code ==
        0);
    auto result = cli.run({"invoke", "fail"}, "x");
    INFO(result);
    CHECK(result.code == 1);
    CHECK(result.err.rfind("faas: Server returned unexpected status code: 500 - ", 0) == 0);
}

TEST_CASE("logs: --tail, --since, -o json, what the function writes to stderr is there") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    TempDir scripts;
    const auto noisy =
        write_script(scripts, "noisy.sh", "echo \"noisy says $(cat)\" >&2\necho ok\n");
    REQUIRE(cli.run({"deploy", "--image", "x", "--name", "noisy", "--fprocess", "sh " + noisy, "-e",
                     "combine_output=false"})
                .code == 0);
    for (const char* word : {"one", "two", "three"})
        REQUIRE(cli.run({"invoke", "noisy"}, word).out == "ok\n");

    CliResult all;
    REQUIRE(wait_until([&] {
        all = cli.run({"logs", "noisy"});
        return all.code == 0 && contains(all.out, "noisy says three");
    }));
    for (const auto& line : lines_of(all.out)) {
        CAPTURE(line);
        // TIMESTAMP NAME (INSTANCE) TEXT
        CHECK(line.find(" noisy (noisy-") != std::string::npos);
        CHECK(line.rfind("20", 0) == 0);
    }
    CHECK(contains(all.out, "noisy says one"));

    auto tail = cli.run({"logs", "noisy", "--tail", "2"});
    REQUIRE(tail.code == 0);
    CHECK(lines_of(tail.out).size() == 2);

    auto as_json = cli.run({"logs", "noisy", "--tail", "3", "-o", "json"});
    REQUIRE(as_json.code == 0);
    const auto json_lines = lines_of(as_json.out);
    CHECK(json_lines.size() == 3);
    for (const auto& line : json_lines) {
        const json entry = json::parse(line);
        CHECK(entry["name"] == "noisy");
        CHECK(entry["text"].is_string());
    }

    auto recent = cli.run({"logs", "noisy", "--since", "10m"});
    CHECK(recent.code == 0);
    CHECK(contains(recent.out, "noisy says two"));
    auto future = cli.run({"logs", "noisy", "--since", "2100-01-01T00:00:00Z"});
    CHECK(future.code == 0);
    CHECK(future.out.empty());
    auto past = cli.run({"logs", "noisy", "--since", "2020-01-01T00:00:00Z", "--tail", "1"});
    CHECK(lines_of(past.out).size() == 1);

    CHECK(cli.run({"logs", "noisy", "--since", "yesterday"}).code == 2);
    CHECK(cli.run({"logs", "noisy", "--tail", "many"}).code == 2);
    CHECK(cli.run({"logs", "noisy", "-o", "yaml"}).code == 2);
    auto ghost = cli.run({"logs", "ghost"});
    CHECK(ghost.code == 1);
    CHECK(ghost.err == "faas: function ghost not found\n");
}

TEST_CASE("logs --follow prints lines as they arrive until the stream ends") {
    // write_timeout bounds how long the gateway keeps a follow open.
    GatewayFixture gateway(GatewayEnv{{"write_timeout", "2s"}});
    Cli cli(gateway_url(gateway));
    REQUIRE(cli.run({"deploy", "--image", "x", "--name", "echo", "--fprocess", "cat"}).code == 0);
    std::thread caller([&] {
        // Calls while the follow is open; each call logs lines.
        for (int i = 0; i < 5; ++i) {
            std::this_thread::sleep_for(200ms);
            cli.run({"invoke", "echo"}, "late");
        }
    });
    const auto started = std::chrono::steady_clock::now();
    auto followed = cli.run({"logs", "echo", "--tail", "0", "--follow"});
    caller.join();
    CHECK(followed.code == 0);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(contains(followed.out, " echo (echo-"));
}
