// `faas up --remote-build`, `faas rollback` and `faas builds` against the real gateway on the local
// provider: the gateway builds the bash starter from the shrinkwrapped context, runs it under
// fwatchdog, rebuilds it with new code, and rolls back.
#include <filesystem>
#include <fstream>

#include "integration/cli_gateway_fixture.h"
#include "support/files.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class ChangeDir {
  public:
    explicit ChangeDir(const fs::path& dir) : previous_(fs::current_path()) {
        fs::current_path(dir);
    }
    ~ChangeDir() { fs::current_path(previous_); }

  private:
    fs::path previous_;
};

/// `text` with every `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

void replace_in_file(const fs::path& file, const std::string& from, const std::string& to) {
    const std::string before = read_text(file);
    REQUIRE(before.find(from) != std::string::npos);
    write_text(file, replaced(before, from, to));
}

/// Waits (bounded) until `faas invoke hello` with body "hi" answers `want`; returns the last
/// answer.
std::string wait_for_answer(const Cli& cli, const std::string& want) {
    std::string got;
    wait_until(
        [&] {
            got = cli.run({"invoke", "hello"}, "hi").out;
            return got == want;
        },
        15s);
    return got;
}

}  // namespace

TEST_CASE("up --remote-build on the local provider: build, rebuild, roll back, list builds") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    TempDir project;
    ChangeDir cd(project.path());

    auto created = cli.run({"new", "hello", "--lang", "bash", "--quiet"});
    INFO(created);
    REQUIRE(created.code == 0);
    REQUIRE(fs::exists("hello.yml"));

    auto first = cli.run({"up", "-f", "hello.yml", "--remote-build"});
    INFO(first);
    INFO(gateway.process().output());
    REQUIRE(first.code == 0);
    CHECK(contains(first.out, "[hello] build context build/hello (template bash)\n"));
    CHECK(contains(first.out, "[hello] building\n"));
    CHECK(contains(first.out, "[hello] v1 is ready in "));
    CHECK(contains(first.out, ": " + cli.url() + "/function/hello\n"));
    CHECK(wait_for_answer(cli, "Hello from bash! You said: hi\n") ==
          "Hello from bash! You said: hi\n");

    // New code (and its test, which the build runs); `up` without the flag sees a local gateway.
    replace_in_file("hello/handler.sh", "Hello from bash!", "Howdy from bash!");
    replace_in_file("hello/handler_test.sh", "Hello from bash!", "Howdy from bash!");
    auto second = cli.run({"up", "-f", "hello.yml"});
    INFO(second);
    REQUIRE(second.code == 0);
    CHECK(contains(second.out, "runs functions as local processes"));
    CHECK(contains(second.out, "[hello] v2 is ready in "));
    CHECK(wait_for_answer(cli, "Howdy from bash! You said: hi\n") ==
          "Howdy from bash! You said: hi\n");

    auto rolled = cli.run({"rollback", "hello"});
    INFO(rolled);
    REQUIRE(rolled.code == 0);
    CHECK(rolled.out.rfind("Rolled back hello to v1 (", 0) == 0);
    CHECK(wait_for_answer(cli, "Hello from bash! You said: hi\n") ==
          "Hello from bash! You said: hi\n");

    auto listed = cli.run({"builds", "list", "--function", "hello"});
    INFO(listed);
    REQUIRE(listed.code == 0);
    const auto rows = lines_of(listed.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].rfind("ID  ", 0) == 0);
    CHECK(contains(rows[1], "  hello  "));
    CHECK(contains(rows[1], "  v2  "));  // newest first
    CHECK(contains(rows[1], "  ready  "));
    CHECK(contains(rows[2], "  v1  "));

    // A build that fails (its test does) exits 1 with the reason; the running version keeps
    // serving.
    replace_in_file("hello/handler.sh", "Howdy from bash!", "Broken bash!");
    auto failed = cli.run({"up", "-f", "hello.yml", "--remote-build"});
    INFO(failed);
    CHECK(failed.code == 1);
    CHECK(contains(failed.out, "[hello] v3 failed after "));
    CHECK(failed.err == "faas: the gateway's build failed for hello (see above)\n");
    CHECK(cli.run({"invoke", "hello"}, "hi").out == "Hello from bash! You said: hi\n");

    auto no_builds = cli.run({"rollback", "ghost"});
    CHECK(no_builds.code == 1);
    CHECK(contains(no_builds.err, "faas: cannot roll back ghost: "));
}
