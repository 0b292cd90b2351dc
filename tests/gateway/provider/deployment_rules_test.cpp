// The rules both providers follow: scale labels, replica counts, secrets, status labels.
#include "provider/deployment_rules.h"

#include <doctest/doctest.h>

#include "provider/function_provider.h"

using namespace faas::gateway;
using nlohmann::json;

namespace {

// Knows the secrets it was given; anything else is not for these tests.
class SecretsOnly final : public FunctionProvider {
  public:
    explicit SecretsOnly(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {}
    ProviderInfo info() const override { return {}; }
    std::vector<FunctionRecord> list() override { return {}; }
    std::optional<FunctionRecord> get(const std::string&) override { return {}; }
    void deploy(const FunctionDeployment&) override {}
    void update(const FunctionDeployment&) override {}
    void scale(const std::string&, int) override {}
    void remove(const std::string&) override {}
    Resolution resolve(const std::string&) override { return {}; }
    std::unique_ptr<LogStream> logs(const LogQuery&) override { return nullptr; }
    std::vector<std::string> list_secrets() override {
        ++asked;
        return secrets_;
    }
    void create_secret(const std::string&, const std::string&) override {}
    void update_secret(const std::string&, const std::string&) override {}
    void remove_secret(const std::string&) override {}
    void shutdown() override {}

    int asked = 0;

  private:
    std::vector<std::string> secrets_;
};

FunctionDeployment with_labels(json labels, json secrets = json::array()) {
    json raw = {{"service", "a"}, {"image", "i"}, {"labels", labels}, {"secrets", secrets}};
    return parse_deployment(raw.dump(), "openfaas-fn");
}

std::string bad_request_of(const FunctionDeployment& deployment, FunctionProvider& secrets) {
    try {
        check_deployment(deployment, secrets, 64);
    } catch (const BadRequest& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("scale labels must be whole numbers in range") {
    SecretsOnly none({});
    const std::string min = "com.openfaas.scale.min";
    CHECK(bad_request_of(with_labels({{min, "x"}}), none) ==
          "label com.openfaas.scale.min must be a number from 0 to 64");
    CHECK(bad_request_of(with_labels({{min, "65"}}), none) ==
          "label com.openfaas.scale.min must be a number from 0 to 64");
    CHECK(bad_request_of(with_labels({{min, "-1"}}), none) ==
          "label com.openfaas.scale.min must be a number from 0 to 64");
    CHECK(bad_request_of(with_labels({{"com.openfaas.scale.max", "1000"}}), none) ==
          "label com.openfaas.scale.max must be a number from 0 to 64");
    CHECK(bad_request_of(with_labels({{"com.openfaas.scale.factor", "101"}}), none) ==
          "label com.openfaas.scale.factor must be a number from 0 to 100");
    CHECK(bad_request_of(with_labels({{min, "5"}, {"com.openfaas.scale.max", "4"}}), none) ==
          "label com.openfaas.scale.min must not be above com.openfaas.scale.max");
    CHECK(bad_request_of(with_labels({{min, "0"},
                                      {"com.openfaas.scale.max", "64"},
                                      {"com.openfaas.scale.factor", "0"},
                                      {"team", "x"}}),
                         none) == "accepted");
}

TEST_CASE("a deployment naming a missing secret is NotFound, and secrets are asked only if named") {
    SecretsOnly secrets({"api-key"});
    CHECK_NOTHROW(check_deployment(with_labels(json::object()), secrets, 64));
    CHECK(secrets.asked == 0);
    CHECK_NOTHROW(check_deployment(with_labels(json::object(), {"api-key"}), secrets, 64));
    try {
        check_deployment(with_labels(json::object(), {"api-key", "missing"}), secrets, 64);
        FAIL("a missing secret was accepted");
    } catch (const NotFound& e) {
        CHECK(std::string(e.what()) == "secret missing not found");
    }
    // Labels first: a bad label and a missing secret is a 400, as without the secret.
    CHECK_THROWS_AS(
        check_deployment(with_labels({{"com.openfaas.scale.min", "x"}}, {"missing"}), secrets, 64),
        BadRequest);
}

TEST_CASE("replica counts from 0 to the maximum") {
    CHECK_NOTHROW(check_replicas(0, 64));
    CHECK_NOTHROW(check_replicas(64, 64));
    CHECK_THROWS_WITH_AS(check_replicas(65, 64), "replicas must be from 0 to 64", BadRequest);
    CHECK_THROWS_WITH_AS(check_replicas(-1, 64), "replicas must be from 0 to 64", BadRequest);
}

TEST_CASE("scale.min sets the first replica count, 1 by default") {
    CHECK(initial_replicas(with_labels(json::object()), 64) == 1);
    CHECK(initial_replicas(with_labels({{"com.openfaas.scale.min", "3"}}), 64) == 3);
    CHECK(initial_replicas(with_labels({{"com.openfaas.scale.min", "0"}}), 64) == 0);
    CHECK_THROWS_AS(initial_replicas(with_labels({{"com.openfaas.scale.min", "65"}}), 64),
                    BadRequest);
    CHECK_THROWS_AS(initial_replicas(with_labels({{"com.openfaas.scale.min", "x"}}), 64),
                    BadRequest);
}

TEST_CASE("a reported deployment carries faas_function and otherwise what was sent") {
    auto bare = parse_deployment(R"({"service":"echo","image":"i"})", "openfaas-fn");
    auto reported = reported_deployment(bare);
    CHECK(reported.labels == std::map<std::string, std::string>{{"faas_function", "echo"}});
    CHECK(reported.raw["labels"] == json({{"faas_function", "echo"}}));
    CHECK(reported.raw["image"] == "i");
    CHECK_FALSE(bare.raw.contains("labels"));  // a copy: what is stored is untouched

    auto labelled = with_labels({{"team", "red"}});
    CHECK(reported_deployment(labelled).raw["labels"] ==
          json({{"team", "red"}, {"faas_function", "a"}}));
}
