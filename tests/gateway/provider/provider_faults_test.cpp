// One fault table for both providers: the same faulty request gets the same exception type and
// message from the local provider (run for real, with fwatchdog replicas) and from the Swarm
// provider (against a fake Engine API), which is what makes the admin API's answers the same.
#include <doctest/doctest.h>

#include <functional>
#include <typeindex>

#include "provider/local/local_provider.h"
#include "support/process.h"
#include "support/wait.h"
#include "swarm/fake_engine.h"

using namespace faas::gateway;
using namespace std::chrono_literals;

namespace {

struct Outcome {
    std::type_index type = typeid(void);  ///< typeid(void): no exception.
    int status = 0;                       ///< status_of(), 0 when nothing was thrown.
    std::string message;
};

Outcome outcome_of(const std::function<void()>& act) {
    try {
        act();
    } catch (const std::exception& e) {
        return Outcome{typeid(e), status_of(e), e.what()};
    }
    return Outcome{};
}

FunctionDeployment deployment(const std::string& body) {
    return parse_deployment(body, "openfaas-fn");
}

struct Fault {
    const char* what;
    std::function<void(FunctionProvider&)> act;
    std::type_index type;
    int status;
    const char* message;
};

// Both providers know function "echo" and secret "api-key", nothing else.
const std::vector<Fault>& faults() {
    static const std::vector<Fault> table{
        {"scale above max_replicas", [](FunctionProvider& p) { p.scale("echo", 65); },
         typeid(BadRequest), 400, "replicas must be from 0 to 64"},
        {"scale below zero", [](FunctionProvider& p) { p.scale("echo", -1); }, typeid(BadRequest),
         400, "replicas must be from 0 to 64"},
        {"deploy naming a missing secret",
         [](FunctionProvider& p) {
             p.deploy(deployment(
                 R"({"service":"fresh","image":"i","envProcess":"cat","secrets":["missing"]})"));
         },
         typeid(NotFound), 404, "secret missing not found"},
        {"update naming a missing secret",
         [](FunctionProvider& p) {
             p.update(deployment(
                 R"({"service":"echo","image":"i","envProcess":"cat","secrets":["missing"]})"));
         },
         typeid(NotFound), 404, "secret missing not found"},
        {"deploy with a scale.min that is not a number",
         [](FunctionProvider& p) {
             p.deploy(deployment(R"({"service":"fresh","image":"i","envProcess":"cat",
                 "labels":{"com.openfaas.scale.min":"x"}})"));
         },
         typeid(BadRequest), 400, "label com.openfaas.scale.min must be a number from 0 to 64"},
        {"deploy with a scale.min above max_replicas",
         [](FunctionProvider& p) {
             p.deploy(deployment(R"({"service":"fresh","image":"i","envProcess":"cat",
                 "labels":{"com.openfaas.scale.min":"65"}})"));
         },
         typeid(BadRequest), 400, "label com.openfaas.scale.min must be a number from 0 to 64"},
        {"deploy of an existing name",
         [](FunctionProvider& p) {
             p.deploy(deployment(R"({"service":"echo","image":"i","envProcess":"cat"})"));
         },
         typeid(AlreadyExists), 409, "function echo already exists"},
        {"scale an unknown function", [](FunctionProvider& p) { p.scale("nope", 1); },
         typeid(NotFound), 404, "function nope not found"},
        {"remove an unknown function", [](FunctionProvider& p) { p.remove("nope"); },
         typeid(NotFound), 404, "function nope not found"},
        {"update an unknown function",
         [](FunctionProvider& p) {
             p.update(deployment(R"({"service":"nope","image":"i","envProcess":"cat"})"));
         },
         typeid(NotFound), 404, "function nope not found"},
        {"logs of an unknown function",
         [](FunctionProvider& p) {
             LogQuery query;
             query.name = "nope";
             p.logs(query);
         },
         typeid(NotFound), 404, "function nope not found"},
        {"update an unknown secret", [](FunctionProvider& p) { p.update_secret("nope", "v"); },
         typeid(NotFound), 404, "secret nope not found"},
        {"remove an unknown secret", [](FunctionProvider& p) { p.remove_secret("nope"); },
         typeid(NotFound), 404, "secret nope not found"},
    };
    return table;
}

}  // namespace

TEST_CASE("the same faults get the same answers from the local and the Swarm provider") {
    faas::test::TempDir state;
    LocalProviderOptions local_options;
    local_options.state_dir = state.path();
    local_options.watchdog_path = FAAS_WATCHDOG_PATH;
    local_options.base_env = {{"PATH", "/usr/bin:/bin"}};
    local_options.stop_grace = 2s;
    LocalProvider local(local_options);
    local.create_secret("api-key", "s3cret");
    local.deploy(deployment(R"({"service":"echo","image":"i","envProcess":"cat"})"));
    REQUIRE(faas::test::wait_until([&] { return local.resolve("echo").ready.size() == 1; }));

    faas::test::FakeEngine engine(faas::test::one_function);
    SwarmProvider swarm(faas::test::options_for(engine.path()));
    REQUIRE(swarm.get("echo"));
    REQUIRE(swarm.list_secrets() == std::vector<std::string>{"api-key"});

    for (const auto& fault : faults()) {
        CAPTURE(fault.what);
        auto from_local = outcome_of([&] { fault.act(local); });
        auto from_swarm = outcome_of([&] { fault.act(swarm); });
        CHECK(from_local.type == fault.type);
        CHECK(from_swarm.type == fault.type);
        CHECK(from_local.status == fault.status);
        CHECK(from_swarm.status == fault.status);
        CHECK(from_local.message == fault.message);
        CHECK(from_swarm.message == fault.message);
    }

    // Not an exception: an unknown function's status is absent in both.
    CHECK_FALSE(local.get("nope"));
    CHECK_FALSE(swarm.get("nope"));
    // The faults changed nothing.
    CHECK(local.list().size() == 1);
    CHECK(local.list_secrets() == std::vector<std::string>{"api-key"});
    CHECK(local.get("echo")->replicas == 1);
}
