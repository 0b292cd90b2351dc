// invoke --async and calls get/list/cancel against a scripted gateway on port 0: what they send,
// what they print, and the one line each error answer (404, 409, 503, no gateway) becomes.
#include <doctest/doctest.h>
#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app.h"
#include "base64.h"
#include "cli/unit/fake_gateway.h"
#include "support/process.h"

using namespace faas;
using namespace faas::cli;
using faas::test::FakeGateway;
using nlohmann::json;

namespace {

struct CliRun {
    int code;
    std::string out;
    std::string err;
};

std::ostream& operator<<(std::ostream& os, const CliRun& r) {
    return os << "exit " << r.code << "\n--- stdout:\n" << r.out << "--- stderr:\n" << r.err;
}

CliRun run_cli(const std::string& gateway, std::vector<std::string> words,
               const std::string& input = {}) {
    const MapEnv env({{"OPENFAAS_URL", gateway}});
    std::istringstream in(input);
    std::ostringstream out, err;
    Context ctx{env, in, out, err, {}, "/nonexistent-home"};
    const int code = run(ctx, words);
    return {code, out.str(), err.str()};
}

/// What the scripted gateway received.
struct Seen {
    std::mutex mutex;
    int requests = 0;
    std::string target;
    std::string body;
    httplib::Headers headers;
};

json record(const std::string& id, const std::string& status) {
    return {{"callId", id},
            {"function", "echo"},
            {"queue", "faas-request"},
            {"status", status},
            {"attempts", 1},
            {"statusCode", 200},
            {"durationSeconds", 0.5},
            {"queuedAt", "2026-03-01T10:00:00Z"},
            {"startedAt", "2026-03-01T10:00:01Z"},
            {"finishedAt", "2026-03-01T10:00:02Z"},
            {"keepResult", true},
            {"result", base64_encode("done\n")}};
}

}  // namespace

TEST_CASE("invoke --async: the call id alone on stdout, how to follow it on stderr") {
    Seen seen;
    FakeGateway gateway([&](httplib::Server& server) {
        server.Post(R"(/async-function/(.*))",
                    [&](const httplib::Request& req, httplib::Response& res) {
                        std::lock_guard lock(seen.mutex);
                        ++seen.requests;
                        seen.target = req.target;
                        seen.body = req.body;
                        seen.headers = req.headers;
                        res.status = 202;
                        res.set_header("X-Call-Id", req.has_header("X-Call-Id")
                                                        ? req.get_header_value("X-Call-Id")
                                                        : "generated-1");
                    });
    });

    auto queued =
        run_cli(gateway.url(),
                {"invoke", "echo", "--async", "--callback-url", "http://127.0.0.1:9000/done",
                 "--keep-result", "-H", "X-Trace=7", "--query", "a=1"},
                "hello later");
    INFO(queued);
    REQUIRE(queued.code == 0);
    CHECK(queued.out == "generated-1\n");
    CHECK(queued.err ==
          "Function submitted asynchronously: call generated-1 to echo is queued "
          "(faas calls get generated-1)\n");
    {
        std::lock_guard lock(seen.mutex);
        CHECK(seen.target == "/async-function/echo?a=1");
        CHECK(seen.body == "hello later");
        CHECK(seen.headers.find("X-Callback-Url")->second == "http://127.0.0.1:9000/done");
        CHECK(seen.headers.find("X-Keep-Result")->second == "true");
        CHECK(seen.headers.find("X-Trace")->second == "7");
        CHECK(seen.headers.find("Content-Type")->second == "text/plain");
        CHECK(seen.headers.count("X-Call-Id") == 0);
    }

    // -a, the chosen id, a namespace and -g, which the hint repeats.
    auto chosen = run_cli("http://127.0.0.1:1", {"invoke", "echo", "-a", "--call-id", "order-42",
                                                 "-n", "openfaas-fn", "-g", gateway.url()});
    INFO(chosen);
    REQUIRE(chosen.code == 0);
    CHECK(chosen.out == "order-42\n");
    CHECK(chosen.err.find("(faas calls get order-42 -g " + gateway.url() + ")") !=
          std::string::npos);
    std::lock_guard lock(seen.mutex);
    CHECK(seen.target == "/async-function/echo.openfaas-fn");
    CHECK(seen.headers.find("X-Call-Id")->second == "order-42");
    CHECK(seen.headers.count("X-Keep-Result") == 0);
}

TEST_CASE("invoke --async: bad flags are usage errors and nothing is sent") {
    Seen seen;
    FakeGateway gateway([&](httplib::Server& server) {
        server.Post(R"(/.*)", [&](const httplib::Request&, httplib::Response& res) {
            std::lock_guard lock(seen.mutex);
            ++seen.requests;
            res.status = 202;
        });
    });
    const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
        {{"invoke", "echo", "--callback-url", "http://127.0.0.1:9/x"},
         "faas: --callback-url needs --async (faas invoke --help)\n"},
        {{"invoke", "echo", "--keep-result"},
         "faas: --keep-result needs --async (faas invoke --help)\n"},
        {{"invoke", "echo", "--call-id", "a"},
         "faas: --call-id needs --async (faas invoke --help)\n"},
        {{"invoke", "echo", "--async", "--callback-url", "localhost:9000/done"},
         "faas: --callback-url takes an absolute http:// or https:// URL, not "
         "'localhost:9000/done' (faas invoke --help)\n"},
        {{"invoke", "echo", "--async", "-H", "X-Callback-Url=ftp://x"},
         "faas: the X-Callback-Url header takes an absolute http:// or https:// URL, not "
         "'ftp://x' (faas invoke --help)\n"},
        {{"invoke", "echo", "--async", "--call-id", "has space"},
         "faas: --call-id takes 1 to 128 of A-Z a-z 0-9 - _, not 'has space' (faas invoke "
         "--help)\n"},
        {{"invoke", "echo", "--async", "-m", "GET"},
         "faas: --async calls are POST (the gateway queues POST /async-function/NAME), not GET "
         "(faas invoke --help)\n"},
    };
    for (const auto& [words, said] : refused) {
        auto result = run_cli(gateway.url(), words);
        INFO(result);
        CHECK(result.code == 2);
        CHECK(result.out.empty());
        CHECK(result.err == said);
    }
    std::lock_guard lock(seen.mutex);
    CHECK(seen.requests == 0);
}

TEST_CASE("invoke --async: a refused call, or a 202 without an id, is one line and exit 1") {
    FakeGateway gateway([](httplib::Server& server) {
        server.Post("/async-function/echo", [](const httplib::Request&, httplib::Response& res) {
            res.status = 503;
            res.set_content("The queue is unreachable, nothing was stored: no servers\n",
                            "text/plain");
        });
        server.Post("/async-function/anon",
                    [](const httplib::Request&, httplib::Response& res) { res.status = 202; });
    });
    auto refused = run_cli(gateway.url(), {"invoke", "echo", "--async"}, "x");
    CHECK(refused.code == 1);
    CHECK(refused.out.empty());
    CHECK(refused.err ==
          "faas: Server returned unexpected status code: 503 - The queue is "
          "unreachable, nothing was stored: no servers\n");

    auto no_id = run_cli(gateway.url(), {"invoke", "anon", "--async"}, "x");
    CHECK(no_id.code == 1);
    CHECK(no_id.err == "faas: the gateway queued the call to anon (202) but sent no X-Call-Id\n");
    // With --call-id the id is known all the same.
    auto known = run_cli(gateway.url(), {"invoke", "anon", "--async", "--call-id", "mine"}, "x");
    CHECK(known.code == 0);
    CHECK(known.out == "mine\n");
}

TEST_CASE("calls get, list, cancel: what they print") {
    Seen seen;
    FakeGateway gateway([&](httplib::Server& server) {
        server.Get("/system/calls/c-1", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(record("c-1", "succeeded").dump(), "application/json");
        });
        server.Get("/system/calls", [&](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(seen.mutex);
                seen.target = req.target;
            }
            res.set_content(
                json::array({record("c-2", "queued"), record("c-1", "succeeded")}).dump(),
                "application/json");
        });
        server.Delete("/system/calls/c-2", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(record("c-2", "cancelled").dump(), "application/json");
        });
    });

    auto got = run_cli(gateway.url(), {"calls", "get", "c-1"});
    INFO(got);
    CHECK(got.code == 0);
    CHECK(got.out.starts_with("Call ID:      c-1\nFunction:     echo\n"));
    CHECK(got.out.find("Status:       succeeded\n") != std::string::npos);
    CHECK(got.out.ends_with("Result:       5 B\ndone\n"));
    auto raw = run_cli(gateway.url(), {"calls", "get", "c-1", "--json"});
    CHECK(json::parse(raw.out) == record("c-1", "succeeded"));

    auto listed = run_cli(gateway.url(), {"calls", "list", "--function", "echo", "--status",
                                          "queued", "--limit", "2"});
    INFO(listed);
    CHECK(listed.code == 0);
    // The records are from 2026-03-01: their age (and the Age column's width) depends on today.
    CHECK(listed.out.starts_with(
        "Call ID  Function  Kind   Status     Attempts  Code  Duration  Age"));
    CHECK(listed.out.find("\nc-2      echo      async  queued     1") != std::string::npos);
    {
        std::lock_guard lock(seen.mutex);
        CHECK(seen.target == "/system/calls?function=echo&status=queued&limit=2");
    }
    auto listed_json = run_cli(gateway.url(), {"calls", "list", "--json"});
    CHECK(json::parse(listed_json.out).size() == 2);

    auto cancelled = run_cli(gateway.url(), {"calls", "cancel", "c-2"});
    CHECK(cancelled.code == 0);
    CHECK(cancelled.out == "Cancelled call c-2 to echo.\n");

    CHECK(run_cli(gateway.url(), {"calls", "get"}).code == 2);
    CHECK(run_cli(gateway.url(), {"calls", "cancel", "a", "b"}).code == 2);
    CHECK(run_cli(gateway.url(), {"calls", "list", "extra"}).code == 2);
}

TEST_CASE("calls: 404, 409, 503, 401 and a gateway that is down are one line and exit 1") {
    FakeGateway gateway([](httplib::Server& server) {
        server.Get("/system/calls/ghost", [](const httplib::Request&, httplib::Response& res) {
            res.status = 404;
            res.set_content("call ghost not found", "text/plain");
        });
        server.Delete("/system/calls/ghost", [](const httplib::Request&, httplib::Response& res) {
            res.status = 404;
            res.set_content("call ghost not found", "text/plain");
        });
        server.Delete("/system/calls/busy", [](const httplib::Request&, httplib::Response& res) {
            res.status = 409;
            res.set_content("call busy is running: only a queued call can be cancelled\n",
                            "text/plain");
        });
        server.Get("/system/calls", [](const httplib::Request&, httplib::Response& res) {
            res.status = 503;
            res.set_content("The queue is unreachable: nats: no servers available", "text/plain");
        });
        server.Get("/system/calls/locked",
                   [](const httplib::Request&, httplib::Response& res) { res.status = 401; });
    });
    const std::string url = gateway.url();
    const std::string closed = "http://127.0.0.1:" + std::to_string(faas::test::free_port());
    const std::vector<std::pair<CliRun, std::string>> said = {
        {run_cli(url, {"calls", "get", "ghost"}), "faas: call ghost not found\n"},
        {run_cli(url, {"calls", "cancel", "ghost"}), "faas: call ghost not found\n"},
        {run_cli(url, {"calls", "cancel", "busy"}),
         "faas: call busy is running: only a queued call can be cancelled\n"},
        {run_cli(url, {"calls", "list"}),
         "faas: cannot list calls: the gateway's call queue is unavailable: The queue is "
         "unreachable: nats: no servers available (503)\n"},
        {run_cli(url, {"calls", "get", "locked"}), "faas: unauthorized: the gateway at " + url +
                                                       " needs credentials: run faas login -g " +
                                                       url + "\n"},
    };
    for (const auto& [result, line] : said) {
        INFO(result);
        CHECK(result.code == 1);
        CHECK(result.out.empty());
        CHECK(result.err == line);
    }
    for (const auto& words : std::vector<std::vector<std::string>>{{"calls", "get", "x"},
                                                                   {"calls", "list"},
                                                                   {"calls", "cancel", "x"},
                                                                   {"invoke", "echo", "--async"}}) {
        auto down = run_cli(closed, words);
        INFO(down);
        CHECK(down.code == 1);
        CHECK(down.err.starts_with("faas: cannot reach the gateway at " + closed + ": "));
        CHECK(std::count(down.err.begin(), down.err.end(), '\n') == 1);
    }
}

TEST_CASE("calls list: a gateway without call records (OpenFaaS) says so") {
    FakeGateway gateway([](httplib::Server&) {});
    auto result = run_cli(gateway.url(), {"calls", "list"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: the gateway at " + gateway.url() +
                            " keeps no records of calls (GET /system/calls answered 404)\n");
}
