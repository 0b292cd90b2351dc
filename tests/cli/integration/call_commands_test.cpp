// invoke --async and calls get/list/cancel, run as the real `faas` binary against a real gateway
// (local provider) that starts nats-server and the queue worker itself on the first async call.
#include <httplib.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cli_gateway_fixture.h"
#include "support/callback_server.h"
#include "support/files.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// The `faas` binary run through sh, so that standard input, output and error are files of its
/// own: what a script doing id=$(faas invoke f --async < in) sees.
class FaasBinary {
  public:
    FaasBinary(std::string gateway_url, std::string home)
        : env_{{"OPENFAAS_URL", std::move(gateway_url)},
               {"HOME", home},
               {"OPENFAAS_CONFIG", home + "/openfaas"}} {}

    CliResult run(const std::vector<std::string>& words, const std::string& input = {}) const {
        TempDir io;
        auto env = env_;
        env["FAAS_IN"] = write_file(io, "in", input);
        env["FAAS_OUT"] = io.path() + "/out";
        env["FAAS_ERR"] = io.path() + "/err";
        std::vector<std::string> argv{"/bin/sh", "-c",
                                      R"(exec "$0" "$@" <"$FAAS_IN" >"$FAAS_OUT" 2>"$FAAS_ERR")",
                                      FAAS_CLI_PATH};
        argv.insert(argv.end(), words.begin(), words.end());
        TestProcess process(argv, env);
        CliResult result;
        const auto code = process.wait_exit(30s);
        REQUIRE_MESSAGE(code, "faas did not finish in 30 s: " << process.output());
        result.code = *code;
        result.out = read_text(env["FAAS_OUT"]);
        result.err = read_text(env["FAAS_ERR"]);
        return result;
    }

  private:
    std::map<std::string, std::string> env_;
};

bool is_final(const std::string& status) {
    return status == "succeeded" || status == "failed" || status == "dead-lettered" ||
           status == "cancelled";
}

}  // namespace

TEST_CASE("invoke --async: the id on stdout, calls get shows the kept result, the callback came") {
    CallbackServer callbacks;
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    REQUIRE(cli.run({"deploy", "--image", "x", "--name", "echo", "--fprocess", "cat"}).code == 0);
    const FaasBinary faas(gateway_url(gateway), cli.home());

    auto queued =
        faas.run({"invoke", "echo", "--async", "--keep-result", "--callback-url", callbacks.url()},
                 "hello later");
    INFO(queued);
    REQUIRE(queued.code == 0);
    const auto lines = lines_of(queued.out);
    REQUIRE(lines.size() == 1);
    const std::string id = lines[0];
    REQUIRE_FALSE(id.empty());
    CHECK(queued.err == "Function submitted asynchronously: call " + id +
                            " to echo is queued (faas calls get " + id + ")\n");

    // A client's retry with its own id is queued once; the id comes back either way.
    for (int i = 0; i < 2; ++i) {
        auto retried = faas.run({"invoke", "echo", "-a", "--call-id", "order-1"}, "retry");
        CHECK(retried.code == 0);
        CHECK(retried.out == "order-1\n");
    }

    // Polled in-process (cheaper than a process a poll); the end state through the binary.
    std::string status;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            auto got = cli.run({"calls", "get", id, "--json"});
                            if (got.code != 0) return false;
                            status = json::parse(got.out).value("status", "");
                            return is_final(status);
                        },
                        60s),
                    "status " << status << "\n"
                              << gateway.process().output());
    CHECK(status == "succeeded");
    auto shown = faas.run({"calls", "get", id});
    INFO(shown);
    CHECK(shown.code == 0);
    CHECK(shown.out.starts_with("Call ID:      " + id + "\nFunction:     echo\n"));
    for (const char* line : {"\nStatus:       succeeded\n", "\nAttempts:     1\n",
                             "\nStatus Code:  200\n", "\nDuration:     0"})
        CHECK(contains(shown.out, line));
    CHECK(contains(shown.out, "\nCallback URL: " + callbacks.url() + "\n"));
    CHECK(shown.out.ends_with("Result:       11 B\nhello later\n"));

    REQUIRE(wait_until([&] { return !callbacks.received().empty(); }, 30s));
    const auto callback = callbacks.received().front();
    CHECK(callback.body == "hello later");
    CHECK(callback.header("X-Call-Id") == id);
    CHECK(callback.header("X-Function-Status") == "200");

    // calls list --function: both calls of echo, order-1 once; nothing for another function.
    json listed;
    REQUIRE(wait_until(
        [&] {
            auto result = cli.run({"calls", "list", "--function", "echo", "--json"});
            listed = json::parse(result.out, nullptr, false);
            return result.code == 0 && listed.is_array() && listed.size() == 2;
        },
        10s));
    CHECK(std::count_if(listed.begin(), listed.end(),
                        [](const json& r) { return r.value("callId", "") == "order-1"; }) == 1);
    auto table = faas.run({"calls", "list", "--function", "echo"});
    INFO(table);
    CHECK(table.code == 0);
    const auto rows = lines_of(table.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].starts_with("Call ID "));
    const bool id_row_succeeded =
        (rows[1].starts_with(id + " ") && contains(rows[1], " succeeded ")) ||
        (rows[2].starts_with(id + " ") && contains(rows[2], " succeeded "));
    CHECK(id_row_succeeded);
    auto nobody = faas.run({"calls", "list", "--function", "nobody"});
    CHECK(nobody.code == 0);
    CHECK(lines_of(nobody.out).size() == 1);

    // Too late to cancel: the gateway's 409, as one line.
    auto late = faas.run({"calls", "cancel", id});
    CHECK(late.code == 1);
    CHECK(late.out.empty());
    CHECK(late.err == "faas: call " + id + " is succeeded: only a queued call can be cancelled\n");
}

TEST_CASE("calls get and cancel: an unknown id is 404, one line and exit 1") {
    GatewayFixture gateway;
    Cli cli(gateway_url(gateway));
    const FaasBinary faas(gateway_url(gateway), cli.home());
    for (const char* command : {"cancel", "get"}) {
        auto result = faas.run({"calls", command, "no-such-call"});
        INFO(result);
        CHECK(result.code == 1);
        CHECK(result.out.empty());
        CHECK(result.err == "faas: call no-such-call not found\n");
    }
    auto listed = faas.run({"calls", "list"});
    INFO(listed);
    CHECK(listed.code == 0);
    CHECK(listed.out == "Call ID  Function  Kind  Status  Attempts  Code  Duration  Age  Error\n");
}

TEST_CASE("calls: a gateway that cannot queue (503) and one that is down are one line") {
    GatewayFixture gateway(GatewayEnv{{"async_calls", "false"}});
    Cli cli(gateway_url(gateway));
    const FaasBinary faas(gateway_url(gateway), cli.home());
    const std::string off = "Asynchronous calls are off on this gateway (async_calls=false).";

    auto queued = faas.run({"invoke", "echo", "--async"}, "x");
    CHECK(queued.code == 1);
    CHECK(queued.out.empty());
    CHECK(queued.err == "faas: Server returned unexpected status code: 503 - " + off + "\n");
    auto listed = faas.run({"calls", "list"});
    CHECK(listed.code == 1);
    CHECK(listed.err ==
          "faas: cannot list calls: the gateway's call queue is unavailable: " + off + " (503)\n");

    const std::string closed = "http://127.0.0.1:" + std::to_string(free_port());
    auto down = faas.run({"calls", "get", "some-id", "-g", closed});
    CHECK(down.code == 1);
    CHECK(down.err.starts_with("faas: cannot reach the gateway at " + closed + ": "));
    CHECK(lines_of(down.err).size() == 1);

    auto usage = faas.run({"invoke", "echo", "--async", "--callback-url", "ftp://x"});
    CHECK(usage.code == 2);
}

TEST_CASE("bash completion from the binary offers the calls commands and the async flags") {
    TempDir home;
    auto complete = [&](const std::string& words, int cword) {
        TempDir io;
        const std::string out = io.path() + "/out";
        TestProcess bash({"/bin/bash", "-c",
                          "source <(\"$FAAS\" completion bash) && COMP_WORDS=(" + words +
                              ") && COMP_CWORD=" + std::to_string(cword) +
                              " && _faas && echo \"${COMPREPLY[*]}\" > \"$OUT\""},
                         {{"FAAS", FAAS_CLI_PATH}, {"OUT", out}, {"HOME", home.path()}});
        const auto code = bash.wait_exit(20s);
        REQUIRE_MESSAGE(code == 0, bash.output());
        return read_text(out);
    };
    CHECK(complete("faas cal", 1) == "calls\n");
    CHECK(complete("faas calls ''", 2) == "get list cancel\n");
    CHECK(complete("faas calls list --st", 3) == "--status\n");
    CHECK(complete("faas invoke echo --ca", 3) == "--callback-url --call-id\n");
}
