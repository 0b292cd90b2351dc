// Flag parsing and the dispatcher: what a user's misspelt or missing flag turns into.
#include "args.h"

#include <doctest/doctest.h>

#include <sstream>

#include "app.h"
#include "cli_error.h"

namespace faas::cli {
namespace {

const FlagSpec kSpecs[] = {
    {"gateway", 'g', true, false, ""},
    {"env", 'e', true, true, ""},
    {"json", 0, false, false, ""},
};

ParsedArgs parse(std::vector<std::string> words) {
    return parse_args(words, kSpecs);
}

struct Run {
    int code;
    std::string out;
    std::string err;
};

Run run_cli(std::vector<std::string> words) {
    MapEnv env;
    std::istringstream in;
    std::ostringstream out, err;
    Context ctx{env, in, out, err, {}, "/nonexistent"};
    const int code = run(ctx, words);
    return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("flags: long, short, inline and separate values, repeats and positionals") {
    auto args = parse({"hello", "-g", "http://a", "--env=A=1", "-eB=2", "--json", "world"});
    CHECK(args.value("gateway") == "http://a");
    CHECK(args.values("env") == std::vector<std::string>{"A=1", "B=2"});
    CHECK(args.flag("json"));
    CHECK(args.positionals() == std::vector<std::string>{"hello", "world"});
    CHECK_FALSE(args.has("nothing"));
    CHECK_FALSE(args.value("nothing"));
}

TEST_CASE("flags: -- ends them, a lone - is a positional, --switch=false is false") {
    auto args = parse({"--json=false", "-", "--", "--gateway"});
    CHECK_FALSE(args.flag("json"));
    CHECK(args.positionals() == std::vector<std::string>{"-", "--gateway"});
}

TEST_CASE("flags: unknown, missing value, given twice, value on a switch are usage errors") {
    CHECK_THROWS_WITH_AS(parse({"--gatway", "x"}), "unknown flag --gatway", UsageError);
    CHECK_THROWS_WITH_AS(parse({"-x"}), "unknown flag -x", UsageError);
    CHECK_THROWS_WITH_AS(parse({"--gateway"}), "--gateway needs a value", UsageError);
    CHECK_THROWS_WITH_AS(parse({"-g", "a", "--gateway", "b"}), "--gateway given twice", UsageError);
    CHECK_THROWS_AS(parse({"--json=yes"}), UsageError);
}

TEST_CASE("dispatch: no command, unknown command and bad flags exit 2 with one line") {
    auto none = run_cli({});
    CHECK(none.code == 2);
    CHECK(none.out.find("Commands:") != std::string::npos);

    auto unknown = run_cli({"lsit"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err == "faas: unknown command 'lsit' (faas --help lists them)\n");

    auto bad_flag = run_cli({"list", "--verbos"});
    CHECK(bad_flag.code == 2);
    CHECK(bad_flag.err == "faas: unknown flag --verbos (faas list --help)\n");
}

TEST_CASE("dispatch: --help for the overview and for each command, two-word commands") {
    auto overview = run_cli({"--help"});
    CHECK(overview.code == 0);
    for (const auto& command : commands())
        CHECK(overview.out.find(std::string(command.name)) != std::string::npos);

    auto help = run_cli({"secret", "create", "--help"});
    CHECK(help.code == 0);
    CHECK(help.out.find("Usage: faas secret create NAME") != std::string::npos);
    CHECK(help.out.find("--from-literal") != std::string::npos);
    CHECK(help.out.find("--gateway") != std::string::npos);

    CHECK(run_cli({"help", "deploy"}).out.find("--fprocess") != std::string::npos);
    CHECK(run_cli({"help", "nope"}).code == 2);
}

TEST_CASE("completion bash: every command and its flags, from the table") {
    auto script = run_cli({"completion", "bash"});
    REQUIRE(script.code == 0);
    CHECK(script.out.find("complete -F _faas faas") != std::string::npos);
    CHECK(script.out.find("\"secret create\") flags=\"--from-literal --from-file ") !=
          std::string::npos);
    // One case branch a group: bash runs only the first that matches.
    CHECK(script.out.find("secret) subs=\"create update list remove \" ;;") != std::string::npos);
    CHECK(run_cli({"completion", "zsh"}).code == 2);
}

TEST_CASE("dispatch: a group's word alone or with --help lists its commands") {
    auto help = run_cli({"calls", "--help"});
    CHECK(help.code == 0);
    CHECK(help.out.starts_with("Usage: faas calls COMMAND [ARGS] [FLAGS]\n"));
    for (const char* line : {"\n  calls get ID", "\n  calls list", "\n  calls cancel ID"})
        CHECK(help.out.find(line) != std::string::npos);
    CHECK(help.out.find("secret") == std::string::npos);
    CHECK(run_cli({"help", "calls"}).out == help.out);
    CHECK(run_cli({"builds", "-h"}).out.find("  builds logs ID") != std::string::npos);

    auto bare = run_cli({"calls"});
    CHECK(bare.code == 2);
    CHECK(bare.out == help.out);

    auto unknown = run_cli({"calls", "show", "x"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err == "faas: unknown command 'calls show' (faas calls --help lists them)\n");

    auto overview = run_cli({"--help"});
    CHECK(overview.out.find("\n  calls get        show an asynchronous call") != std::string::npos);
    auto get_help = run_cli({"calls", "get", "--help"});
    CHECK(get_help.out.starts_with("Usage: faas calls get ID\n"));
    CHECK(run_cli({"calls", "list", "--help"}).out.find("--status VALUE") != std::string::npos);
    auto invoke_help = run_cli({"invoke", "--help"});
    for (const char* flag :
         {"-a, --async", "--callback-url VALUE", "--call-id VALUE", "--keep-result"})
        CHECK(invoke_help.out.find(flag) != std::string::npos);
}

TEST_CASE("completion bash: the calls group and invoke's async flags") {
    auto script = run_cli({"completion", "bash"});
    REQUIRE(script.code == 0);
    CHECK(script.out.find(" calls ") != std::string::npos);
    CHECK(script.out.find("calls) subs=\"get list cancel \" ;;") != std::string::npos);
    CHECK(script.out.find("\"calls list\") flags=\"--function --status --limit ") !=
          std::string::npos);
    CHECK(script.out.find("--async --callback-url --call-id --keep-result ") != std::string::npos);
}

}  // namespace faas::cli
