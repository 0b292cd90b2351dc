// JSON mapping of deployments, status, scale, delete and secrets.
#include "function_types.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using nlohmann::json;

TEST_CASE("a status echoes exactly what was deployed") {
    std::string body = R"({"service":"echo","image":"functions/echo:latest","envProcess":"cat",
        "envVars":{"a":"1"},"labels":{"com.openfaas.scale.min":"2"},"annotations":{"x":"y"},
        "constraints":[],"limits":{"memory":"128m"},"readOnlyRootFilesystem":true,
        "registryAuth":"dXNlcjpwYXNz"})";
    auto deployment = parse_deployment(body, "openfaas-fn");
    CHECK(deployment.service == "echo");
    CHECK(deployment.env_process == "cat");
    CHECK(deployment.labels.at("com.openfaas.scale.min") == "2");
    FunctionRecord record{deployment, 2, 1, "2026-01-01T00:00:00Z"};
    auto status = status_json(record, "openfaas-fn", 7);
    CHECK(status["name"] == "echo");
    CHECK(status["image"] == "functions/echo:latest");
    CHECK(status["envProcess"] == "cat");
    CHECK(status["envVars"] == json({{"a", "1"}}));
    CHECK(status["constraints"] == json::array());  // no injected default constraint
    CHECK(status["limits"] == json({{"memory", "128m"}}));
    CHECK(status["annotations"] == json({{"x", "y"}}));
    CHECK(status["readOnlyRootFilesystem"] == true);
    CHECK(status["replicas"] == 2);
    CHECK(status["availableReplicas"] == 1);
    CHECK(status["invocationCount"] == 7.0);
    CHECK(status["createdAt"] == "2026-01-01T00:00:00Z");
    CHECK(status["namespace"] == "openfaas-fn");
    CHECK_FALSE(status.contains("registryAuth"));
    CHECK_FALSE(status.contains("requests"));  // absent stays absent
}

TEST_CASE("deployments missing or malformed fields are 400s") {
    for (const char* bad :
         {"", "{", "[]", R"({"image":"x"})", R"({"service":"x"})", R"({"service":"","image":"x"})",
          R"({"service":"Bad_Name","image":"x"})", R"({"service":"x","image":"x","envVars":[1]})",
          R"({"service":"x","image":"x","labels":{"a":1}})",
          R"({"service":"x","image":"x","secrets":["../etc"]})", R"({"service":"x","image":42})"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_deployment(bad, "openfaas-fn"), BadRequest);
    }
    // Another namespace is not found, as everywhere else in the API.
    CHECK_THROWS_AS(
        parse_deployment(R"({"service":"x","image":"x","namespace":"other"})", "openfaas-fn"),
        NotFound);
    CHECK_NOTHROW(parse_deployment(R"({"service":"x","image":"i","namespace":"openfaas-fn"})",
                                   "openfaas-fn"));
}

TEST_CASE("scale, delete and secret requests") {
    auto scale = parse_scale_request(R"({"serviceName":"echo","replicas":0})");
    CHECK(scale.service_name == "echo");
    CHECK(scale.replicas == 0);
    CHECK_THROWS_AS(parse_scale_request(R"({"serviceName":"echo","replicas":-1})"), BadRequest);
    CHECK_THROWS_AS(parse_scale_request(R"({"serviceName":"echo"})"), BadRequest);

    CHECK(parse_delete_request(R"({"functionName":"echo"})", "openfaas-fn") == "echo");
    CHECK_THROWS_AS(parse_delete_request(R"({"functionName":"../x"})", "openfaas-fn"), BadRequest);
    CHECK_THROWS_AS(parse_delete_request("{}", "openfaas-fn"), BadRequest);

    auto secret = parse_secret_request(R"({"name":"key","value":"s3cret"})", "openfaas-fn", true);
    CHECK(secret.value == "s3cret");
    auto raw = parse_secret_request(R"({"name":"key","rawValue":"aGk="})", "openfaas-fn", true);
    CHECK(raw.value == "hi");
    CHECK_THROWS_AS(parse_secret_request(R"({"name":"key"})", "openfaas-fn", true), BadRequest);
    CHECK_NOTHROW(parse_secret_request(R"({"name":"key"})", "openfaas-fn", false));
}

TEST_CASE("documents nested too deep are 400s, not a stack overflow") {
    // Regression: the deployment's raw object is copied (recursively) into its status; 100k
    // levels of nesting in any field crashed the gateway before the depth limit.
    auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    const std::string deep = nested(100000);
    CHECK_THROWS_AS(parse_deployment(R"({"service":"a","image":"b","x":)" + deep + "}", "ns"),
                    BadRequest);
    CHECK_THROWS_AS(parse_scale_request(R"({"serviceName":"a","replicas":1,"x":)" + deep + "}"),
                    BadRequest);
    CHECK_THROWS_AS(parse_delete_request(R"({"functionName":"a","x":)" + deep + "}", "ns"),
                    BadRequest);
    CHECK_THROWS_AS(
        parse_secret_request(R"({"name":"a","value":"v","x":)" + deep + "}", "ns", true),
        BadRequest);
    CHECK_THROWS_AS(
        parse_deployment(R"({"service":"a","image":"b","x":)" + nested(kMaxJsonDepth) + "}", "ns"),
        BadRequest);
    // Anything a real document needs still passes, and is echoed as sent.
    auto deployment = parse_deployment(
        R"({"service":"a","image":"b","x":)" + nested(kMaxJsonDepth - 2) + "}", "ns");
    FunctionRecord record{deployment, 1, 1, "2026-11-21T10:30:51Z"};
    CHECK(status_json(record, "ns", 0)["x"].dump() == nested(kMaxJsonDepth - 2));
}
