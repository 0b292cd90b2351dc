// deploy, ready, scale, remove, list and describe against the real gateway and fwatchdog replicas.
#include <nlohmann/json.hpp>

#include "integration/cli_gateway_fixture.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("deploy --image --name --fprocess without a stack, update it (PUT), replace it") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));

    auto deployed = cli.run({"deploy", "--image", "local/echo:1", "--name", "echo", "--fprocess",
                             "cat", "-e", "A=1", "-l", "team=x", "--annotation", "note=hi",
                             "--memory-limit", "64m", "--readonly"});
    INFO(deployed);
    REQUIRE(deployed.code == 0);
    CHECK(deployed.out ==
          "Deploying: echo.\nDeployed. 202 Accepted. URL: " + cli.url() + "/function/echo\n");
    // Ready when deploy returns: no waiting in the test.
    auto status = gateway.status("echo");
    CHECK(status["availableReplicas"] == 1);
    CHECK(status["image"] == "local/echo:1");
    CHECK(status["envProcess"] == "cat");
    CHECK(status["envVars"] == json{{"A", "1"}});
    CHECK(status["labels"]["team"] == "x");
    CHECK(status["annotations"] == json{{"note", "hi"}});
    CHECK(status["limits"] == json{{"memory", "64m"}});
    CHECK(status["readOnlyRootFilesystem"] == true);
    CHECK(cli.run({"invoke", "echo"}, "hi").out == "hi");

    // The same command again updates (a POST would be 409): new image and environment.
    auto updated = cli.run(
        {"deploy", "--image", "local/echo:2", "--name", "echo", "--fprocess", "cat", "-e", "A=2"});
    INFO(updated);
    REQUIRE(updated.code == 0);
    CHECK(contains(updated.out, "Deployed. 202 Accepted."));
    status = gateway.status("echo");
    CHECK(status["image"] == "local/echo:2");  // waited for: the status shows the new image
    CHECK(status["envVars"] == json{{"A", "2"}});
    CHECK(status["availableReplicas"] == 1);

    auto create_only = cli.run({"deploy", "--image", "local/echo:3", "--name", "echo", "--fprocess",
                                "cat", "--update=false"});
    CHECK(create_only.code == 1);
    CHECK(create_only.err ==
          "faas: function echo already exists (deploy with --update or --replace)\n");

    auto replaced = cli.run(
        {"deploy", "--image", "local/echo:3", "--name", "echo", "--fprocess", "cat", "--replace"});
    INFO(replaced);
    CHECK(replaced.code == 0);
    CHECK(gateway.status("echo")["image"] == "local/echo:3");
    CHECK(gateway.status("echo")["envVars"].is_null());  // replaced, not merged

    auto no_wait = cli.run(
        {"deploy", "--image", "x", "--name", "later", "--fprocess", "cat", "--no-wait", "--json"});
    CHECK(no_wait.code == 0);
    const json results = json::parse(no_wait.out);
    CHECK(results[0]["name"] == "later");
    CHECK(results[0]["url"] == cli.url() + "/function/later");
    CHECK(contains(no_wait.err, "Deploying: later."));

    CHECK(cli.run({"deploy", "--image", "x"}).code == 2);  // no name
    CHECK(cli.run({"deploy", "--image", "x", "--name", "n", "-e", "novalue"}).code == 2);
    CHECK(cli.run({"deploy", "--image", "x", "--name", "n", "--timeout", "soon"}).code == 2);
    auto bad = cli.run({"deploy", "--image", "x", "--name", "Bad_Name", "--fprocess", "cat"});
    CHECK(bad.code == 1);
    CHECK(contains(bad.err, "cannot deploy Bad_Name: 'service' must be a DNS label"));
}

TEST_CASE("deploy waits at most --timeout, then names the function and what it lacks") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    const auto started = std::chrono::steady_clock::now();
    auto idle = cli.run({"deploy", "--image", "x", "--name", "idle", "--fprocess", "cat", "-l",
                         "com.openfaas.scale.min=0", "--timeout", "1s"});
    CHECK(idle.code == 1);
    CHECK(idle.err ==
          "faas: idle is not ready after 1s: 0 replicas, 0 available (see faas logs idle)\n");
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(contains(idle.out, "Deploying: idle."));
}

TEST_CASE("deploy from a stack file: every field, environment_file, --filter, names, remove") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    TempDir dir;
    write_file(dir, "env.yml", "environment:\n  FROM_FILE: \"1\"\n  B: from-file\n");
    const std::string stack = write_file(dir, "stack.yml", R"(version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:1
functions:
  cat-fn:
    skip_build: true
    image: local/cat-fn:${TAG:-0.1}
    fprocess: cat
    environment:
      B: "2"
    environment_file:
      - env.yml
    labels:
      team: blue
    annotations:
      owner: me
    limits:
      memory: 32m
  env-fn:
    skip_build: true
    image: local/env-fn:0.1
    fprocess: env
)");

    auto one = cli.run({"deploy", "-f", stack, "--filter", "cat*"});
    INFO(one);
    REQUIRE(one.code == 0);  // OPENFAAS_URL wins over provider.gateway
    CHECK(one.out ==
          "Deploying: cat-fn.\nDeployed. 202 Accepted. URL: " + cli.url() + "/function/cat-fn\n");
    auto status = gateway.status("cat-fn");
    CHECK(status["image"] == "local/cat-fn:0.1");
    CHECK(status["envVars"] == json{{"B", "2"}, {"FROM_FILE", "1"}});
    CHECK(status["labels"]["team"] == "blue");
    CHECK(status["annotations"] == json{{"owner", "me"}});
    CHECK(status["limits"] == json{{"memory", "32m"}});
    CHECK(gateway.status("env-fn").is_null());
    CHECK(cli.run({"invoke", "cat-fn"}, "meow").out == "meow");

    auto named = cli.run({"deploy", "-f", stack, "env-fn", "-e", "EXTRA=yes"});
    INFO(named);
    REQUIRE(named.code == 0);
    CHECK_FALSE(contains(named.out, "cat-fn"));
    CHECK(gateway.status("env-fn")["envVars"] == json{{"EXTRA", "yes"}});

    auto all = cli.run({"deploy", "-f", stack});
    CHECK(all.code == 0);
    CHECK(contains(all.out, "Deploying: cat-fn.\nDeploying: env-fn.\n"));

    auto unknown = cli.run({"deploy", "-f", stack, "nope"});
    CHECK(unknown.code == 1);
    CHECK(contains(unknown.err, "no function nope in " + stack));
    CHECK(cli.run({"deploy", "-f", dir.path() + "/missing.yml"}).code == 1);

    auto removed = cli.run({"remove", "-f", stack});
    INFO(removed);
    CHECK(removed.code == 0);
    CHECK(removed.out ==
          "Deleting: cat-fn.\nRemoved: cat-fn.\nDeleting: env-fn.\nRemoved: env-fn.\n");
    CHECK(gateway.status("cat-fn").is_null());
    CHECK(gateway.status("env-fn").is_null());
}

TEST_CASE("list, describe, scale, ready and remove") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    REQUIRE(cli.run({"deploy", "--image", "local/bbb:1", "--name", "bbb", "--fprocess", "cat", "-e",
                     "GREETING=hi", "-l", "team=x", "--constraint", "node.role==manager"})
                .code == 0);
    REQUIRE(
        cli.run({"deploy", "--image", "local/aaa:1", "--name", "aaa", "--fprocess", "cat"}).code ==
        0);
    CHECK(cli.run({"invoke", "aaa"}, "x").code == 0);

    auto list = cli.run({"list"});
    INFO(list);
    CHECK(list.code == 0);
    CHECK(list.out ==
          "Function  Invocations  Replicas  Image\n"
          "aaa       1            1         local/aaa:1\n"
          "bbb       0            1         local/bbb:1\n");
    auto verbose = cli.run({"list", "-v"});
    const auto rows = lines_of(verbose.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] == "Function  Invocations  Replicas  Available  Image        Created");
    CHECK(rows[1].rfind("aaa       1            1         1          local/aaa:1  20", 0) == 0);
    CHECK(contains(rows[1], " UTC ("));
    const json listed = json::parse(cli.run({"list", "--json"}).out);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]["name"].is_string());
    CHECK(listed[0]["availableReplicas"] == 1);

    auto described = cli.run({"describe", "bbb"});
    INFO(described);
    CHECK(described.code == 0);
    const auto lines = lines_of(described.out);
    REQUIRE(lines.size() >= 15);
    CHECK(lines[0] == "Name:               bbb");
    CHECK(lines[1] == "Status:             Ready");
    CHECK(lines[2] == "Replicas:           1");
    CHECK(lines[3] == "Available Replicas: 1");
    CHECK(lines[4] == "Invocations:        0");
    CHECK(lines[5] == "Image:              local/bbb:1");
    CHECK(lines[6] == "Function Process:   cat");
    CHECK(lines[7] == "URL:                " + cli.url() + "/function/bbb");
    CHECK(lines[8] == "Labels:             faas_function=bbb");
    CHECK(lines[9] == "                    team=x");
    CHECK(lines[10] == "Annotations:        <none>");
    CHECK(lines[11] == "Constraints:        node.role==manager");
    CHECK(lines[12] == "Secrets:            <none>");
    CHECK(lines[13] == "Environment:        GREETING=hi");
    CHECK(lines.back().rfind("Created:            20", 0) == 0);
    const json as_json = json::parse(cli.run({"describe", "bbb", "--json"}).out);
    CHECK(as_json["name"] == "bbb");
    CHECK(as_json["envVars"]["GREETING"] == "hi");
    auto ghost = cli.run({"describe", "ghost"});
    CHECK(ghost.code == 1);
    CHECK(ghost.err == "faas: function ghost not found\n");

    auto scaled = cli.run({"scale", "aaa", "--replicas", "2"});
    CHECK(scaled.code == 0);
    CHECK(scaled.out == "Scaling aaa to 2 replicas.\n");
    CHECK(gateway.wait_available("aaa", 2));
    auto too_many = cli.run({"scale", "aaa", "--replicas", "1000"});
    CHECK(too_many.code == 1);
    CHECK(too_many.err == "faas: cannot scale aaa: replicas must be from 0 to 64 (400)\n");
    CHECK(cli.run({"scale", "ghost", "--replicas", "1"}).err == "faas: function ghost not found\n");
    CHECK(cli.run({"scale", "aaa", "--replicas", "two"}).code == 2);
    CHECK(cli.run({"scale", "aaa"}).code == 2);

    auto ready = cli.run({"ready", "aaa", "bbb"});
    CHECK(ready.code == 0);
    CHECK(ready.out == "aaa is ready.\nbbb is ready.\n");
    auto gateway_ready = cli.run({"ready"});
    CHECK(gateway_ready.code == 0);
    CHECK(gateway_ready.out == "The gateway at " + cli.url() + " is ready.\n");
    auto ghost_ready = cli.run({"ready", "ghost", "--timeout", "2s"});
    CHECK(ghost_ready.code == 1);
    CHECK(ghost_ready.err == "faas: function ghost not found\n");

    auto removed = cli.run({"remove", "aaa"});
    CHECK(removed.code == 0);
    CHECK(removed.out == "Deleting: aaa.\nRemoved: aaa.\n");
    CHECK(gateway.status("aaa").is_null());
    auto again = cli.run({"remove", "aaa"});
    CHECK(again.code == 1);
    CHECK(again.err == "faas: function aaa not found\n");
    auto mixed = cli.run({"remove", "ghost", "bbb", "phantom"});
    CHECK(mixed.code == 1);
    CHECK(mixed.err == "faas: functions not found: ghost, phantom\n");
    CHECK(gateway.status("bbb").is_null());  // the one that existed is gone
    CHECK(cli.run({"list"}).out == "Function  Invocations  Replicas  Image\n");
}

TEST_CASE("ready without names waits for the gateway, bounded") {
    const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
    Cli cli(url);
    const auto started = std::chrono::steady_clock::now();
    auto result = cli.run({"ready", "--timeout", "500ms"});
    CHECK(result.code == 1);
    CHECK(
        contains(result.err, "the gateway at " + url + " is not ready after 500ms: cannot reach"));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}
