// secret create|list|update|remove, with the values checked where they end up: in a function.
#include <nlohmann/json.hpp>

#include "integration/cli_gateway_fixture.h"

using namespace faas::test;
using nlohmann::json;

TEST_CASE("secrets: create from a literal, a file (binary) and stdin, list, update, remove") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    TempDir dir;
    const std::string binary("\x00\xff\xfe secret\n", 11);
    const std::string file = write_file(dir, "key.bin", binary);

    auto literal = cli.run({"secret", "create", "literal", "--from-literal", "l1t"});
    INFO(literal);
    CHECK(literal.code == 0);
    CHECK(literal.out == "Created secret literal.\n");
    CHECK(cli.run({"secret", "create", "from-file", "--from-file", file}).code == 0);
    CHECK(cli.run({"secret", "create", "from-stdin"}, "piped\n").code == 0);

    auto list = cli.run({"secret", "list"});
    CHECK(list.code == 0);
    CHECK(list.out == "Secret\nfrom-file\nfrom-stdin\nliteral\n");
    const json listed = json::parse(cli.run({"secret", "list", "--json"}).out);
    CHECK(listed.size() == 3);
    CHECK_FALSE(contains(listed.dump(), "l1t"));

    // A function given the secrets reads them back exactly (file named by a header).
    TempDir scripts;
    const auto reader =
        write_script(scripts, "read.sh", "cat \"${secret_mount_path}${Http_X_Secret}\"\n");
    auto deployed =
        cli.run({"deploy", "--image", "x", "--name", "reader", "--fprocess", "sh " + reader,
                 "--secret", "literal", "--secret", "from-file", "--secret", "from-stdin"});
    INFO(deployed);
    REQUIRE(deployed.code == 0);
    auto read = [&](const std::string& name) {
        return cli.run({"invoke", "reader", "-H", "X-Secret=" + name}).out;
    };
    CHECK(read("literal") == "l1t");
    CHECK(read("from-file") == binary);      // sent as rawValue: not UTF-8
    CHECK(read("from-stdin") == "piped\n");  // kept byte for byte

    auto exists = cli.run({"secret", "create", "literal", "--from-literal", "again"});
    CHECK(exists.code == 1);
    CHECK(exists.err == "faas: secret literal already exists (faas secret update literal)\n");

    auto updated = cli.run({"secret", "update", "literal"}, "n3w");
    CHECK(updated.code == 0);
    CHECK(updated.out == "Updated secret literal.\n");
    CHECK(read("literal") == "n3w");
    auto unknown_update = cli.run({"secret", "update", "ghost", "--from-literal", "x"});
    CHECK(unknown_update.code == 1);
    CHECK(unknown_update.err == "faas: secret ghost not found (faas secret create ghost)\n");

    CHECK(cli.run({"secret", "create", "x", "--from-literal", "a", "--from-file", file}).code == 2);
    CHECK(cli.run({"secret", "create", "x"}, "").code == 2);  // empty value
    auto no_file = cli.run({"secret", "create", "x", "--from-file", dir.path() + "/none"});
    CHECK(no_file.code == 1);
    CHECK(contains(no_file.err, "cannot read " + dir.path() + "/none"));
    CHECK(cli.run({"secret", "create"}).code == 2);

    REQUIRE(cli.run({"remove", "reader"}).code == 0);
    auto removed = cli.run({"secret", "remove", "from-file"});
    CHECK(removed.code == 0);
    CHECK(removed.out == "Removed secret from-file.\n");
    auto gone = cli.run({"secret", "remove", "from-file"});
    CHECK(gone.code == 1);
    CHECK(gone.err == "faas: secret from-file not found\n");
    CHECK(cli.run({"secret", "list"}).out == "Secret\nfrom-stdin\nliteral\n");
}
