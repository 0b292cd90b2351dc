// login, logout, namespace list, version and the gateway-level errors, against the real gateway.
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "integration/cli_gateway_fixture.h"

using namespace faas::test;
using nlohmann::json;

namespace {

/// A gateway that wants admin:s3cret on /system/*.
struct AuthGateway {
    TempDir secrets;
    std::unique_ptr<GatewayFixture> gateway;
    AuthGateway() {
        std::ofstream(secrets.path() + "/basic-auth-user") << "admin\n";
        std::ofstream(secrets.path() + "/basic-auth-password") << "s3cret\n";
        gateway = std::make_unique<GatewayFixture>(
            GatewayEnv{{"basic_auth", "true"}, {"secret_mount_path", secrets.path()}});
    }
};

}  // namespace

TEST_CASE("login: a wrong password is refused and not saved, the right one is saved and used") {
    AuthGateway auth;
    Cli cli(gateway_url(*auth.gateway));
    const std::string url = cli.url();

    auto before = cli.run({"list"});
    CHECK(before.code == 1);
    CHECK(before.err == "faas: unauthorized: the gateway at " + url +
                            " needs credentials: run faas login -g " + url + "\n");

    auto wrong = cli.run({"login", "--password-stdin"}, "nope\n");
    CHECK(wrong.code == 1);
    CHECK(contains(wrong.err, "invalid credentials for " + url));
    CHECK_FALSE(std::filesystem::exists(cli.config_file()));

    auto right =
        cli.run({"login", "-u", "admin", "--password-stdin"}, "s3cret\n");  // newline trimmed
    INFO(right);
    REQUIRE(right.code == 0);
    CHECK(contains(right.out, "credentials saved for admin " + url + "\n"));
    CHECK(right.err.empty());

    struct stat info {};
    REQUIRE(::stat(cli.config_file().c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    const YAML::Node config = YAML::LoadFile(cli.config_file().string());
    REQUIRE(config["auths"].size() == 1);
    CHECK(config["auths"][0]["gateway"].as<std::string>() == url);
    CHECK(config["auths"][0]["auth"].as<std::string>() == "basic");
    CHECK(config["auths"][0]["token"].as<std::string>() == "YWRtaW46czNjcmV0");  // admin:s3cret

    auto listed = cli.run({"list"});
    INFO(listed);
    CHECK(listed.code == 0);
    CHECK(listed.out == "Function  Invocations  Replicas  Image\n");
    CHECK(cli.run({"secret", "list", "--json"}).out == "[]\n");

    // --password works too, with a warning; a wrong one keeps the saved entry.
    auto flag = cli.run({"login", "--password", "s3cret"});
    CHECK(flag.code == 0);
    CHECK(contains(flag.err, "--password-stdin"));
    CHECK(cli.run({"login", "--password", "bad"}).code == 1);
    CHECK(cli.run({"list"}).code == 0);

    auto out = cli.run({"logout"});
    CHECK(out.code == 0);
    CHECK(out.out == "credentials removed for " + url + "\n");
    CHECK(cli.run({"list"}).code == 1);
    auto again = cli.run({"logout"});
    CHECK(again.code == 0);
    CHECK(contains(again.out, "no credentials were saved for " + url));

    // Credentials saved (by faas-cli, say) that the gateway no longer takes: say so.
    std::filesystem::create_directories(cli.config_file().parent_path());
    std::ofstream(cli.config_file())
        << "auths:\n- gateway: " << url << "\n  auth: basic\n  token: YWRtaW46b2xk\n";  // admin:old
    auto stale = cli.run({"describe", "anything"});
    CHECK(stale.code == 1);
    CHECK(stale.err == "faas: unauthorized: the gateway at " + url +
                           " refused the saved credentials: run faas login -g " + url + "\n");
}

TEST_CASE("login: usage errors before any call") {
    Cli cli("http://127.0.0.1:1");
    CHECK(cli.run({"login"}).code == 2);
    CHECK(cli.run({"login", "--password-stdin"}, "\n").code == 2);  // empty
    CHECK(cli.run({"login", "--password", "x", "--password-stdin"}, "y").code == 2);
    auto unreachable = cli.run({"login", "--password", "x"});
    CHECK(unreachable.code == 1);
    CHECK(contains(unreachable.err, "cannot reach the gateway at http://127.0.0.1:1"));
    CHECK_FALSE(std::filesystem::exists(cli.config_file()));
}

TEST_CASE("namespace list and version") {
    GatewayFixture gateway(GatewayEnv{{"function_namespace", "fns"}});
    Cli cli(gateway_url(gateway));
    auto namespaces = cli.run({"namespace", "list"});
    CHECK(namespaces.code == 0);
    CHECK(namespaces.out == "Namespace\nfns\n");
    CHECK(json::parse(cli.run({"namespace", "list", "--json"}).out) == json::array({"fns"}));

    auto version = cli.run({"version"});
    INFO(version);
    CHECK(version.code == 0);
    CHECK(version.out.rfind("CLI: version ", 0) == 0);
    CHECK(contains(version.out, "Gateway: " + cli.url()));
    CHECK(contains(version.out, "Provider: faas-local"));
    CHECK(contains(version.out, "orchestration: local"));
    auto as_json = json::parse(cli.run({"version", "--json"}).out);
    CHECK(as_json["cli"]["version"].is_string());
    CHECK(as_json["gateway"]["provider"]["provider"] == "faas-local");
}

TEST_CASE(
    "an unreachable gateway is named in every command's error, version prints its own first") {
    const std::string url = "http://127.0.0.1:" + std::to_string(free_port());  // nothing listens
    Cli cli(url);
    for (const std::vector<std::string>& words :
         std::vector<std::vector<std::string>>{{"list"},
                                               {"describe", "x"},
                                               {"invoke", "x"},
                                               {"logs", "x"},
                                               {"remove", "x"},
                                               {"scale", "x", "--replicas", "1"},
                                               {"secret", "list"},
                                               {"namespace", "list"},
                                               {"deploy", "--image", "i", "--name", "n"}}) {
        CAPTURE(words.front());
        auto result = cli.run(words);
        CHECK(result.code == 1);
        CHECK(result.err.rfind("faas: cannot reach the gateway at " + url + ": ", 0) == 0);
        CHECK(result.err.find('\n') == result.err.size() - 1);  // one line
    }
    auto version = cli.run({"version"});
    CHECK(version.code == 1);
    CHECK(version.out.rfind("CLI: version ", 0) == 0);
    CHECK(contains(version.err, "cannot reach the gateway at " + url));

    // -g wins over OPENFAAS_URL.
    GatewayFixture gateway;
    CHECK(cli.run({"list", "-g", gateway_url(gateway)}).code == 0);
}

TEST_CASE("the faas binary: exit codes and one line on stderr") {
    TempDir home;
    const std::string closed = "http://127.0.0.1:" + std::to_string(free_port());
    std::map<std::string, std::string> env{{"HOME", home.path()},
                                           {"OPENFAAS_CONFIG", home.path() + "/cfg"}};

    TestProcess unreachable({FAAS_CLI_PATH, "list", "-g", closed}, env);
    CHECK(unreachable.wait_exit(std::chrono::seconds(20)) == 1);
    const std::string said = unreachable.output();
    CHECK(said.rfind("faas: cannot reach the gateway at " + closed + ": ", 0) == 0);
    CHECK(std::count(said.begin(), said.end(), '\n') == 1);

    TestProcess bad_flag({FAAS_CLI_PATH, "list", "--no-such-flag"}, env);
    CHECK(bad_flag.wait_exit(std::chrono::seconds(20)) == 2);
    CHECK(contains(bad_flag.output(), "unknown flag --no-such-flag"));

    GatewayFixture gateway;
    env["OPENFAAS_URL"] = gateway_url(gateway);
    TestProcess missing({FAAS_CLI_PATH, "describe", "ghost"}, env);
    CHECK(missing.wait_exit(std::chrono::seconds(20)) == 1);
    CHECK(missing.output() == "faas: function ghost not found\n");

    TestProcess listed({FAAS_CLI_PATH, "list"}, env);
    CHECK(listed.wait_exit(std::chrono::seconds(20)) == 0);
    CHECK(listed.output() == "Function  Invocations  Replicas  Image\n");
}
