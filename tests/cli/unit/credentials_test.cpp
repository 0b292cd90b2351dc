// The credentials file: OpenFaaS's format, other entries kept, private, written atomically.
#include "credentials.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "cli_error.h"
#include "support/process.h"

namespace faas::cli {
namespace {

namespace fs = std::filesystem;
using faas::test::TempDir;

std::string read_file(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned mode_of(const fs::path& file) {
    struct stat info {};
    REQUIRE(::stat(file.c_str(), &info) == 0);
    return info.st_mode & 0777;
}

}  // namespace

TEST_CASE("credentials file: OPENFAAS_CONFIG moves the folder, else ~/.openfaas") {
    MapEnv env;
    CHECK(credentials_file(env, "/home/u") == fs::path("/home/u/.openfaas/config.yml"));
    env.set("OPENFAAS_CONFIG", "/etc/faas");
    CHECK(credentials_file(env, "/home/u") == fs::path("/etc/faas/config.yml"));
    env.set("OPENFAAS_CONFIG", "");
    CHECK(credentials_file(env, "/home/u") == fs::path("/home/u/.openfaas/config.yml"));
}

TEST_CASE("credentials: saved in faas-cli's format, mode 0600 in a 0700 folder, read back") {
    TempDir dir;
    const fs::path file = fs::path(dir.path()) / "a" / ".openfaas" / "config.yml";
    CHECK_FALSE(load_credentials(file, "http://127.0.0.1:8080"));  // no file: none

    save_credentials(file, "http://127.0.0.1:8080/", {"admin", "pa:ss w0rd"});
    CHECK(mode_of(file) == 0600);
    CHECK(mode_of(file.parent_path()) == 0700);
    CHECK(mode_of(file.parent_path().parent_path()) == 0700);

    const YAML::Node root = YAML::LoadFile(file.string());
    REQUIRE(root["auths"].IsSequence());
    REQUIRE(root["auths"].size() == 1);
    const YAML::Node entry = root["auths"][0];
    CHECK(entry["gateway"].as<std::string>() == "http://127.0.0.1:8080");  // no trailing slash
    CHECK(entry["auth"].as<std::string>() == "basic");
    CHECK(entry["token"].as<std::string>() == "YWRtaW46cGE6c3MgdzByZA==");  // base64(user:pass)

    auto creds = load_credentials(file, "http://127.0.0.1:8080");
    REQUIRE(creds);
    CHECK(creds->user == "admin");
    CHECK(creds->password == "pa:ss w0rd");  // split at the first ':' only
    CHECK(load_credentials(file, "http://127.0.0.1:8080//"));
    CHECK_FALSE(load_credentials(file, "http://127.0.0.1:8081"));

    // No temporary file is left beside it.
    int files = 0;
    for ([[maybe_unused]] const auto& item : fs::directory_iterator(file.parent_path())) ++files;
    CHECK(files == 1);
}

TEST_CASE("credentials: a file faas-cli wrote keeps its other entries and unknown fields") {
    TempDir dir;
    const fs::path file = fs::path(dir.path()) / "config.yml";
    std::ofstream(file) << "auths:\n"
                           "- gateway: https://other.example.com\n"
                           "  auth: oauth2\n"
                           "  token: eyJhbGciOi\n"
                           "  options:\n"
                           "    client_id: abc\n"
                           "- gateway: http://127.0.0.1:8080\n"
                           "  auth: basic\n"
                           "  token: b2xkOm9sZA==\n"
                           "future_setting: kept\n";
    auto old = load_credentials(file, "http://127.0.0.1:8080");
    REQUIRE(old);
    CHECK(old->user == "old");
    CHECK_FALSE(load_credentials(file, "https://other.example.com"));  // oauth2 is not ours

    save_credentials(file, "http://127.0.0.1:8080", {"admin", "new"});
    save_credentials(file, "http://10.0.0.1:8080", {"ops", "x"});
    const YAML::Node root = YAML::LoadFile(file.string());
    CHECK(root["future_setting"].as<std::string>() == "kept");
    REQUIRE(root["auths"].size() == 3);
    CHECK(root["auths"][0]["auth"].as<std::string>() == "oauth2");
    CHECK(root["auths"][0]["token"].as<std::string>() == "eyJhbGciOi");
    CHECK(root["auths"][0]["options"]["client_id"].as<std::string>() == "abc");
    CHECK(root["auths"][1]["gateway"].as<std::string>() == "http://127.0.0.1:8080");  // in place
    CHECK(load_credentials(file, "http://127.0.0.1:8080")->password == "new");
    CHECK(load_credentials(file, "http://10.0.0.1:8080")->user == "ops");
    CHECK(mode_of(file) == 0600);

    CHECK(remove_credentials(file, "http://127.0.0.1:8080/"));
    CHECK_FALSE(remove_credentials(file, "http://127.0.0.1:8080"));
    CHECK_FALSE(load_credentials(file, "http://127.0.0.1:8080"));
    const YAML::Node after = YAML::LoadFile(file.string());
    CHECK(after["auths"].size() == 2);
    CHECK(after["future_setting"].as<std::string>() == "kept");
}

TEST_CASE("credentials: a bad file is an error naming it, removing from no file is false") {
    TempDir dir;
    const fs::path file = fs::path(dir.path()) / "config.yml";
    CHECK_FALSE(remove_credentials(file, "http://127.0.0.1:8080"));
    CHECK_FALSE(fs::exists(file));

    std::ofstream(file) << "auths: [\n";
    const std::string named = file.string() + ":";
    CHECK_THROWS_WITH_AS(load_credentials(file, "http://x"), doctest::Contains(named.c_str()),
                         CliError);
    CHECK_THROWS_AS(save_credentials(file, "http://x", {"a", "b"}), CliError);
    CHECK(read_file(file) == "auths: [\n");  // a file it cannot read is left alone

    std::ofstream(file, std::ios::trunc) << "auths: nope\n";
    CHECK_THROWS_WITH_AS(load_credentials(file, "http://x"), doctest::Contains("'auths'"),
                         CliError);

    std::ofstream(file, std::ios::trunc) << "auths:\n- gateway: http://x\n  auth: basic\n"
                                            "  token: '!!!'\n";
    CHECK_THROWS_WITH_AS(load_credentials(file, "http://x"), doctest::Contains("faas login"),
                         CliError);

    std::ofstream(file, std::ios::trunc) << "";
    CHECK_FALSE(load_credentials(file, "http://x"));
    save_credentials(file, "http://x", {"a", "b"});
    CHECK(load_credentials(file, "http://x")->password == "b");
}

}  // namespace faas::cli
