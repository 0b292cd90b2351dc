// A stack function and deploy's flags -> the FunctionDeployment JSON the gateway receives.
#include <doctest/doctest.h>

#include "cli_error.h"
#include "deployment.h"

namespace faas::cli {
namespace {

using nlohmann::json;

FunctionSpec full_function() {
    FunctionSpec fn;
    fn.name = "hello";
    fn.lang = "python3-http";
    fn.handler = "./hello";
    fn.image = "registry:5000/hello:0.2";
    fn.fprocess = "python3 index.py";
    fn.namespace_ = "openfaas-fn";
    fn.environment = {{"write_debug", "true"}};
    fn.secrets = {"api-key"};
    fn.labels = {{"com.openfaas.scale.min", "2"}};
    fn.annotations = {{"topic", "orders"}};
    fn.constraints = {"node.role==worker"};
    fn.limits = Resources{"128m", "0.5"};
    fn.requests = Resources{"64m", ""};
    fn.readonly_root_filesystem = true;
    fn.build_args = {{"ADDITIONAL_PACKAGE", "curl"}};  // build-time only: never sent
    return fn;
}

}  // namespace

TEST_CASE("every deployable field of a stack function maps onto its FunctionDeployment name") {
    const FunctionSpec fn = full_function();
    const json document = deployment_json(fn, {{"write_debug", "true"}, {"from_file", "1"}});
    CHECK(document == json{{"service", "hello"},
                           {"image", "registry:5000/hello:0.2"},
                           {"namespace", "openfaas-fn"},
                           {"envProcess", "python3 index.py"},
                           {"envVars", {{"from_file", "1"}, {"write_debug", "true"}}},
                           {"labels", {{"com.openfaas.scale.min", "2"}}},
                           {"annotations", {{"topic", "orders"}}},
                           {"constraints", {"node.role==worker"}},
                           {"secrets", {"api-key"}},
                           {"limits", {{"memory", "128m"}, {"cpu", "0.5"}}},
                           {"requests", {{"memory", "64m"}}},
                           {"readOnlyRootFilesystem", true}});
}

TEST_CASE("a bare function sends only service and image: the status echoes what was set") {
    FunctionSpec fn;
    fn.name = "bare";
    fn.image = "x";
    fn.limits = Resources{};  // present but empty: left out
    CHECK(deployment_json(fn, {}) == json{{"service", "bare"}, {"image", "x"}});
}

TEST_CASE("deploy's flags merge into the stack's function as faas-cli's do") {
    ParsedArgs args;
    args.add("env", "write_debug=false");
    args.add("env", "EXTRA=a=b");  // split at the first '='
    args.add("label", "team=x");
    args.add("annotation", "topic=payments");
    args.add("secret", "api-key");  // already there: not twice
    args.add("secret", "db-pass");
    args.add("constraint", "node.labels.gpu==true");  // replaces the stack's
    args.add("fprocess", "cat");
    args.add("namespace", "other");
    args.add("readonly", "false");
    args.add("memory-limit", "256m");
    args.add("cpu-request", "0.25");
    const auto overrides = deploy_overrides(args);
    const FunctionSpec fn = apply_overrides(full_function(), overrides);

    CHECK(fn.environment ==
          std::map<std::string, std::string>{{"EXTRA", "a=b"}, {"write_debug", "false"}});
    CHECK(fn.labels ==
          std::map<std::string, std::string>{{"com.openfaas.scale.min", "2"}, {"team", "x"}});
    CHECK(fn.annotations.at("topic") == "payments");
    CHECK(fn.secrets == std::vector<std::string>{"api-key", "db-pass"});
    CHECK(fn.constraints == std::vector<std::string>{"node.labels.gpu==true"});
    CHECK(fn.fprocess == "cat");
    CHECK(fn.namespace_ == "other");
    CHECK_FALSE(fn.readonly_root_filesystem);
    CHECK(fn.limits->memory == "256m");
    CHECK(fn.limits->cpu == "0.5");  // kept
    CHECK(fn.requests->memory == "64m");
    CHECK(fn.requests->cpu == "0.25");
    CHECK(fn.image == "registry:5000/hello:0.2");
}

TEST_CASE("no flags change nothing, resources appear only when a flag sets one") {
    FunctionSpec fn;
    fn.name = "bare";
    fn.image = "x";
    fn.constraints = {"a==b"};
    const auto same = apply_overrides(fn, deploy_overrides(ParsedArgs{}));
    CHECK(deployment_json(same, {}) == deployment_json(fn, {}));

    ParsedArgs args;
    args.add("cpu-limit", "1");
    args.add("readonly", "true");
    const auto changed = apply_overrides(fn, deploy_overrides(args));
    const json document = deployment_json(changed, {});
    CHECK(document["limits"] == json{{"cpu", "1"}});
    CHECK_FALSE(document.contains("requests"));
    CHECK(document["readOnlyRootFilesystem"] == true);
}

TEST_CASE("KEY=VALUE flags: a word without '=' or a key is a usage error naming the flag") {
    CHECK(split_key_value("a=", "env") == std::pair<std::string, std::string>{"a", ""});
    CHECK_THROWS_WITH_AS(split_key_value("novalue", "env"), doctest::Contains("--env"), UsageError);
    CHECK_THROWS_AS(split_key_value("=x", "label"), UsageError);
    ParsedArgs args;
    args.add("label", "oops");
    CHECK_THROWS_WITH_AS(deploy_overrides(args), doctest::Contains("--label takes KEY=VALUE"),
                         UsageError);
}

TEST_CASE("image references: the same image in its short and normalised forms") {
    CHECK(same_image("x", "x"));
    CHECK(same_image("x", "docker.io/library/x:latest"));
    CHECK(same_image("user/fn:1", "docker.io/user/fn:1"));
    CHECK(same_image("registry:5000/fn", "registry:5000/fn:latest"));
    CHECK(same_image("localhost/fn:2", "localhost/fn:2"));
    CHECK_FALSE(same_image("fn:1", "fn:2"));
    CHECK_FALSE(same_image("user/fn", "other/fn"));
    CHECK_FALSE(same_image("registry:5000/fn", "docker.io/library/fn:latest"));
}

}  // namespace faas::cli
