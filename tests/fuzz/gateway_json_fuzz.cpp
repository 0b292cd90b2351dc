// Fuzz target: the admin API's JSON bodies (deploy/update, scale, delete, secrets) and the
// Alertmanager webhook, as untrusted bytes, and the autoscaling policy read from a deployment's
// labels. Whatever parses must satisfy what the providers and the autoscaler rely on, and a
// status must round-trip through JSON text; anything else is a typed request error
// (BadRequest, or NotFound for another namespace), never another exception.
#include <cstdint>
#include <string>
#include <vector>

#include "alert.h"
#include "autoscale/scale_policy.h"
#include "function_types.h"
#include "names.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace faas::gateway;
    const std::string body(reinterpret_cast<const char*>(data), size);
    const std::string served = "openfaas-fn";

    try {
        auto deployment = parse_deployment(body, served);
        if (!is_valid_name(deployment.service) || deployment.image.empty()) __builtin_trap();
        for (const auto& secret : deployment.secrets)
            if (!is_valid_secret_name(secret)) __builtin_trap();
        FunctionRecord record{deployment, 1, 1, "2026-11-21T10:30:51Z"};
        auto status = status_json(record, served, 3);
        if (status.contains("registryAuth") || status["name"] != deployment.service)
            __builtin_trap();
        // What the local provider persists and reads back must validate again.
        auto again = deployment_from_json(nlohmann::json::parse(deployment.raw.dump()), served);
        if (again.service != deployment.service) __builtin_trap();
        // The autoscaler reads the labels of any deployment, checked or not, without throwing;
        // whatever it reads is a policy it can act on.
        (void)scale_policy_error(deployment.labels);
        auto policy = scale_policy(deployment.labels);
        if (policy.min < 0 || policy.max < policy.min) __builtin_trap();
        if (policy.target && !(*policy.target > 0)) __builtin_trap();
        if (!(policy.target_proportion > 0 && policy.target_proportion <= 1)) __builtin_trap();
        if (policy.zero_duration.count() < 0) __builtin_trap();
    } catch (const BadRequest&) {
    } catch (const NotFound&) {  // another namespace
    }
    try {
        auto scale = parse_scale_request(body);
        if (scale.replicas < 0) __builtin_trap();
    } catch (const BadRequest&) {
    } catch (const NotFound&) {  // another namespace
    }
    try {
        if (!is_valid_name(parse_delete_request(body, served))) __builtin_trap();
    } catch (const BadRequest&) {
    } catch (const NotFound&) {  // another namespace
    }
    try {
        auto secret = parse_secret_request(body, served, true);
        if (!is_valid_secret_name(secret.name) || !secret.value) __builtin_trap();
    } catch (const BadRequest&) {
    } catch (const NotFound&) {  // another namespace
    }
    try {
        for (const auto& alert : parse_alerts(body))
            (void)parse_function_name(alert.function_name, served);
    } catch (const BadRequest&) {
    } catch (const NotFound&) {  // another namespace
    }
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        R"({"service":"echo","image":"functions/echo:latest","envProcess":"cat","envVars":{"a":"1"},"labels":{"com.openfaas.scale.min":"2"},"annotations":{"x":"y"},"constraints":[],"limits":{"memory":"128m"},"readOnlyRootFilesystem":true,"secrets":["api-key"],"namespace":"openfaas-fn","registryAuth":"x"})",
        R"({"service":"a","image":"b","x":)" + std::string(200, '[') + std::string(200, ']') + "}",
        R"({"serviceName":"echo","replicas":3})",
        R"({"serviceName":"echo","replicas":-1})",
        R"({"functionName":"echo","namespace":"openfaas-fn"})",
        R"({"name":"api-key","value":"s3cret"})",
        R"({"name":"api-key","rawValue":"czNjcmV0"})",
        R"({"receiver":"scale-up","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"APIHighInvocationRate","function_name":"echo"}}]})",
        R"({"alerts":[{"status":"resolved","labels":{"function_name":"echo.openfaas-fn"}}]})",
        "[]",
        "{\"service\":\"\\u0000\"}",
    };
}
