// Deployment <-> Swarm ServiceSpec mapping, quantities and tasks.
#include "provider/swarm/service_mapping.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using namespace faas::gateway::swarm;
using nlohmann::json;

namespace {

FunctionDeployment full_deployment() {
    return parse_deployment(R"({"service":"echo","image":"faas/echoit:latest","envProcess":"cat",
        "envVars":{"A":"1","B":"x=y"},"labels":{"team":"red","com.openfaas.scale.min":"2"},
        "annotations":{"topic":"news"},"constraints":["node.role == manager"],
        "secrets":["api-key"],"limits":{"memory":"128m","cpu":"0.5"},
        "requests":{"memory":"5Mi","cpu":"100m"},"readOnlyRootFilesystem":true,
        "registryAuth":"dXNlcjpwYXNz"})",
                            "openfaas-fn");
}

}  // namespace

TEST_CASE("memory quantities in Docker and Kubernetes notation") {
    CHECK(parse_memory_bytes("128m") == 128LL << 20);
    CHECK(parse_memory_bytes("128M") == 128LL << 20);
    CHECK(parse_memory_bytes("128MB") == 128LL << 20);
    CHECK(parse_memory_bytes("5Mi") == 5LL << 20);
    CHECK(parse_memory_bytes("1Gi") == 1LL << 30);
    CHECK(parse_memory_bytes("1.5g") == 3LL << 29);
    CHECK(parse_memory_bytes("512k") == 512LL << 10);
    CHECK(parse_memory_bytes("1024") == 1024);
    CHECK(parse_memory_bytes("1024b") == 1024);
    for (const char* bad : {"", "m", "abc", "-1", "0", "12x", "1.2.3m", "5Mx", "1e9", " 5m"})
        CHECK_MESSAGE(!parse_memory_bytes(bad), bad);
}

TEST_CASE("cpu quantities as fractions or millicores") {
    CHECK(parse_nano_cpus("0.5") == 500'000'000);
    CHECK(parse_nano_cpus("2") == 2'000'000'000);
    CHECK(parse_nano_cpus("100m") == 100'000'000);
    CHECK(parse_nano_cpus("1500m") == 1'500'000'000);
    for (const char* bad : {"", "abc", "-1", "0", "5x", "1.2.3", "100M", "m"})
        CHECK_MESSAGE(!parse_nano_cpus(bad), bad);
}

TEST_CASE("a deployment becomes a labelled dnsrr service on the functions network") {
    auto deployment = full_deployment();
    SpecContext context{"net-id", 2, {{"api-key", "secret-id"}}};
    auto spec = service_spec(deployment, context);

    CHECK(spec["Name"] == "echo");
    const auto& labels = spec["Labels"];
    CHECK(labels["function"] == "true");
    CHECK(labels["com.openfaas.function"] == "echo");
    CHECK(labels["faas_function"] == "echo");
    CHECK(labels["team"] == "red");
    CHECK(labels["com.openfaas.annotations.topic"] == "news");
    auto stored = json::parse(labels["com.faas.deployment"].get<std::string>());
    CHECK_FALSE(stored.contains("registryAuth"));  // a credential is never stored in a label
    CHECK(stored["limits"]["memory"] == "128m");

    const auto& container = spec["TaskTemplate"]["ContainerSpec"];
    CHECK(container["Image"] == "faas/echoit:latest");
    CHECK(container["Labels"]["com.openfaas.function"] == "echo");
    CHECK_FALSE(container["Labels"].contains("com.faas.deployment"));
    CHECK(container["Env"] == json({"fprocess=cat", "A=1", "B=x=y"}));
    CHECK(container["ReadOnly"] == true);
    CHECK(container["Mounts"][0]["Type"] == "tmpfs");
    CHECK(container["Mounts"][0]["Target"] == "/tmp");
    CHECK(container["Secrets"][0]["File"]["Name"] == "/var/openfaas/secrets/api-key");
    CHECK(container["Secrets"][0]["SecretID"] == "secret-id");
    CHECK(container["Secrets"][0]["SecretName"] == "api-key");
    CHECK(container["Secrets"][0]["File"]["Mode"] == 0444);
    CHECK(container["Healthcheck"]["Test"] == json({"CMD", "fwatchdog", "-run-healthcheck"}));

    const auto& task = spec["TaskTemplate"];
    CHECK(task["Resources"]["Limits"]["MemoryBytes"] == 128LL << 20);
    CHECK(task["Resources"]["Limits"]["NanoCPUs"] == 500'000'000);
    CHECK(task["Resources"]["Reservations"]["MemoryBytes"] == 5LL << 20);
    CHECK(task["Resources"]["Reservations"]["NanoCPUs"] == 100'000'000);
    CHECK(task["Placement"]["Constraints"] == json({"node.role == manager"}));
    CHECK(task["Networks"][0]["Target"] == "net-id");
    CHECK(task["RestartPolicy"]["Condition"] == "any");

    CHECK(spec["Mode"]["Replicated"]["Replicas"] == 2);
    CHECK(spec["UpdateConfig"]["Order"] == "start-first");
    CHECK(spec["EndpointSpec"]["Mode"] == "dnsrr");
}

TEST_CASE("a minimal deployment gets no read-only root, limits or placement") {
    auto deployment =
        parse_deployment(R"({"service":"cat","image":"faas/catservice"})", "openfaas-fn");
    auto spec = service_spec(deployment, SpecContext{});
    const auto& container = spec["TaskTemplate"]["ContainerSpec"];
    CHECK_FALSE(container.contains("ReadOnly"));
    CHECK_FALSE(container.contains("Mounts"));
    CHECK_FALSE(container.contains("Secrets"));
    CHECK(container["Env"] == json::array());
    CHECK_FALSE(spec["TaskTemplate"].contains("Placement"));
    CHECK_FALSE(spec["TaskTemplate"].contains("Networks"));
    CHECK(spec["TaskTemplate"]["Resources"]["Limits"] == json::object());
}

TEST_CASE("limits Swarm cannot express and unknown secrets are refused") {
    auto bad_memory = parse_deployment(R"({"service":"a","image":"i","limits":{"memory":"lots"}})",
                                       "openfaas-fn");
    CHECK_THROWS_AS(service_spec(bad_memory, SpecContext{}), BadRequest);
    auto bad_cpu =
        parse_deployment(R"({"service":"a","image":"i","requests":{"cpu":"fast"}})", "openfaas-fn");
    CHECK_THROWS_AS(service_spec(bad_cpu, SpecContext{}), BadRequest);
    auto secret =
        parse_deployment(R"({"service":"a","image":"i","secrets":["nope"]})", "openfaas-fn");
    CHECK_THROWS_AS(service_spec(secret, SpecContext{}), NotFound);
}

TEST_CASE("a service deployed through the API reads back exactly as sent") {
    auto deployment = full_deployment();
    json service = {{"ID", "svc1"},
                    {"Spec", service_spec(deployment, SpecContext{"n", 2, {{"api-key", "s"}}})}};
    REQUIRE(function_name_of(service) == "echo");
    auto back = deployment_of(service, "echo", "openfaas-fn");
    auto expected = deployment.raw;
    expected.erase("registryAuth");
    CHECK(back.raw == expected);
    CHECK(back.secrets == std::vector<std::string>{"api-key"});
    CHECK(desired_replicas(service) == 2);
}

TEST_CASE("a service made by docker stack deploy is rebuilt from its spec") {
    json service = json::parse(R"({"ID":"abc","Spec":{"Name":"func_catservice",
        "Labels":{"function":"true","com.openfaas.function":"catservice",
                  "com.docker.stack.namespace":"func","com.docker.stack.image":"faas/catservice:latest",
                  "team":"blue","com.openfaas.annotations.note":"hi"},
        "TaskTemplate":{"ContainerSpec":{"Image":"faas/catservice:latest@sha256:0123",
            "Env":["fprocess=cat","mode=streaming"],"ReadOnly":true,
            "Secrets":[{"SecretName":"k","SecretID":"x","File":{"Name":"/var/openfaas/secrets/k"}}]},
          "Resources":{"Limits":{"MemoryBytes":134217728,"NanoCPUs":500000000}},
          "Placement":{"Constraints":["node.role == manager"]}},
        "Mode":{"Replicated":{"Replicas":1}}}})");
    REQUIRE(function_name_of(service) == "catservice");
    auto deployment = deployment_of(service, "catservice", "openfaas-fn");
    CHECK(deployment.service == "catservice");
    CHECK(deployment.image == "faas/catservice:latest");
    CHECK(deployment.env_process == "cat");
    CHECK(deployment.env_vars == std::map<std::string, std::string>{{"mode", "streaming"}});
    CHECK(deployment.labels == std::map<std::string, std::string>{{"team", "blue"}});
    CHECK(deployment.raw["annotations"] == json({{"note", "hi"}}));
    CHECK(deployment.raw["limits"] == json({{"memory", "134217728"}, {"cpu", "0.5"}}));
    CHECK(deployment.raw["constraints"] == json({"node.role == manager"}));
    CHECK(deployment.raw["readOnlyRootFilesystem"] == true);
    CHECK(deployment.secrets == std::vector<std::string>{"k"});
}

TEST_CASE("only services labelled as functions are functions") {
    CHECK_FALSE(function_name_of(json::parse(R"({"Spec":{"Name":"prometheus","Labels":{}}})")));
    CHECK_FALSE(function_name_of(json::parse(R"({"Spec":{"Name":"x"}})")));
    CHECK(function_name_of(
              json::parse(R"({"Spec":{"Name":"old","Labels":{"function":"true"}}})")) == "old");
    CHECK(function_name_of(json::parse(
              R"({"Spec":{"Name":"s","Labels":{"function":"true","faas_function":"legacy"}}})")) ==
          "legacy");
}

TEST_CASE("ready tasks give their address on the functions network") {
    auto task =
        json::parse(R"({"ServiceID":"s","DesiredState":"running","Status":{"State":"running"},
        "NetworksAttachments":[
          {"Network":{"ID":"ing","Spec":{"Name":"ingress"}},"Addresses":["10.0.0.5/24"]},
          {"Network":{"ID":"other","Spec":{"Name":"other"}},"Addresses":["10.0.2.7/24"]},
          {"Network":{"ID":"fn","Spec":{"Name":"func_functions"}},"Addresses":["10.0.1.9/24"]}]})");
    CHECK(task_ready(task));
    CHECK(task_address(task, "fn") == "10.0.1.9");
    CHECK(task_address(task, "") == "10.0.2.7");  // never the ingress network
    CHECK(task_address(json::object(), "fn") == std::nullopt);

    auto starting = task;
    starting["Status"]["State"] = "starting";  // health check not passed yet
    CHECK_FALSE(task_ready(starting));
    auto stopping = task;
    stopping["DesiredState"] = "shutdown";  // scaled down: draining, takes no new requests
    CHECK_FALSE(task_ready(stopping));
}

TEST_CASE("a task wanted running but not yet healthy is starting, not ready") {
    auto task =
        json::parse(R"({"ServiceID":"s","DesiredState":"running","Status":{"State":"starting"},
        "NetworksAttachments":[{"Network":{"ID":"fn"},"Addresses":["10.0.1.9/24"]}]})");
    CHECK(task_starting(task));
    CHECK_FALSE(task_ready(task));
    CHECK(task_address(task, "fn") == "10.0.1.9");  // an address before its first health check

    auto running = task;
    running["Status"]["State"] = "running";
    CHECK_FALSE(task_starting(running));
    auto stopping = task;
    stopping["DesiredState"] = "shutdown";
    CHECK_FALSE(task_starting(stopping));
    auto preparing = task;
    preparing["Status"]["State"] = "preparing";  // pulling its image: nothing listens yet
    CHECK_FALSE(task_starting(preparing));
    CHECK_FALSE(task_starting(json::object()));
}
