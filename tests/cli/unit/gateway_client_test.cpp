// The gateway client against a scripted HTTP server on port 0: what it sends, what it refuses
// (redirects, answers past 64 MiB), streaming, and the errors a user sees.
#include "gateway_client.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <functional>
#include <sstream>
#include <thread>

#include "app.h"
#include "cli/unit/fake_gateway.h"
#include "cli_error.h"
#include "support/process.h"

namespace faas::cli {
using faas::test::FakeGateway;

namespace {

using namespace std::chrono_literals;

}  // namespace

TEST_CASE("request: method, target, body, headers and basic auth go out, headers come back") {
    httplib::Request seen;
    FakeGateway fake([&](httplib::Server& server) {
        server.Put("/system/functions", [&](const httplib::Request& req, httplib::Response& res) {
            seen = req;
            res.set_header("X-Answer", "42");
            res.set_content("accepted", "text/plain");
            res.status = 202;
        });
        server.Delete("/plain", [&](const httplib::Request& req, httplib::Response& res) {
            seen = req;
            res.status = 200;
        });
    });
    const GatewayClient client(fake.url() + "/", BasicCredentials{"admin", "pa:ss"});
    CHECK(client.base_url() == fake.url());
    CHECK(client.has_credentials());

    auto response = client.request("PUT", "/system/functions?namespace=x", R"({"a":1})",
                                   {{"Content-Type", "application/json"}, {"X-Extra", "1"}});
    CHECK(response.status == 202);
    CHECK(response.body == "accepted");
    CHECK(response.headers.at("x-answer") == "42");
    CHECK(response.headers.at("content-type") == "text/plain");
    CHECK(seen.method == "PUT");
    CHECK(seen.get_param_value("namespace") == "x");
    CHECK(seen.body == R"({"a":1})");
    CHECK(seen.get_header_value("Content-Type") == "application/json");
    CHECK(seen.get_header_value("X-Extra") == "1");
    CHECK(seen.get_header_value("Authorization") == "Basic YWRtaW46cGE6c3M=");
    CHECK_FALSE(seen.has_header("Expect"));

    // A body without a Content-Type is not sent as a form.
    response = client.request("DELETE", "/plain", "{}");
    CHECK(response.status == 200);
    CHECK(seen.body == "{}");
    CHECK_FALSE(seen.has_header("Content-Type"));
}

TEST_CASE("request: a redirect is returned, not followed, an answer past 64 MiB is refused") {
    std::atomic<bool> followed{false};
    FakeGateway fake([&](httplib::Server& server) {
        server.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
            res.set_redirect("/elsewhere", 302);
        });
        server.Get("/elsewhere", [&](const httplib::Request&, httplib::Response& res) {
            followed = true;
            res.status = 200;
        });
        server.Get("/big", [](const httplib::Request&, httplib::Response& res) {
            const size_t total = (size_t{64} << 20) + 1;
            res.set_content_provider(total, "application/octet-stream",
                                     [](size_t offset, size_t length, httplib::DataSink& sink) {
                                         static const std::string block(64 * 1024, 'x');
                                         (void)offset;
                                         return sink.write(block.data(),
                                                           std::min(length, block.size()));
                                     });
        });
    });
    const GatewayClient client(fake.url(), std::nullopt);
    CHECK_FALSE(client.has_credentials());
    CHECK(client.request("GET", "/moved").status == 302);
    CHECK_FALSE(followed);
    CHECK_THROWS_WITH_AS(client.request("GET", "/big"), doctest::Contains("larger than 64 MiB"),
                         CliError);
}

TEST_CASE("request: an unreachable or silent gateway is named, with curl's reason") {
    const std::string closed = "http://127.0.0.1:" + std::to_string(faas::test::free_port());
    const GatewayClient client(closed, std::nullopt);
    const std::string expected = "cannot reach the gateway at " + closed + ": ";
    CHECK_THROWS_WITH_AS(client.request("GET", "/healthz"), doctest::Contains(expected.c_str()),
                         CliError);
    CHECK_THROWS_AS(client.stream("GET", "/system/logs", [](std::string_view) { return true; }),
                    CliError);

    FakeGateway slow([](httplib::Server& server) {
        server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(1s);  // longer than the client's timeout below
            res.status = 200;
        });
    });
    const GatewayClient impatient(slow.url(), std::nullopt, 100ms);
    CHECK_THROWS_WITH_AS(impatient.request("GET", "/slow"), doctest::Contains("timed out"),
                         CliError);
}

TEST_CASE("stream: chunks reach the sink as they come, it can stop, errors keep their message") {
    FakeGateway fake([](httplib::Server& server) {
        server.Get("/chunks", [](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider("text/plain",
                                             [](size_t offset, httplib::DataSink& sink) {
                                                 if (offset >= 30) {
                                                     sink.done();
                                                     return true;
                                                 }
                                                 return sink.write("0123456789", 10);
                                             });
        });
        server.Get("/endless", [](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
                return sink.write("more\n", 5);
            });
        });
        server.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
            res.status = 404;
            res.set_content("function ghost not found\n", "text/plain");
        });
    });
    const GatewayClient client(fake.url(), std::nullopt);
    std::string received;
    CHECK(client.stream("GET", "/chunks", [&](std::string_view chunk) {
        received.append(chunk);
        return true;
    }) == 200);
    CHECK(received == "012345678901234567890123456789");

    size_t calls = 0;
    CHECK(client.stream("GET", "/endless", [&](std::string_view) { return ++calls < 3; }) == 200);
    CHECK(calls == 3);

    std::string error_body;
    bool sink_called = false;
    CHECK(client.stream(
              "GET", "/missing",
              [&](std::string_view) {
                  sink_called = true;
                  return true;
              },
              &error_body) == 404);
    CHECK_FALSE(sink_called);
    CHECK(error_body == "function ghost not found\n");
}

TEST_CASE("expect_success: 2xx passes, 401 says log in, others show the gateway's message") {
    const GatewayClient anonymous("http://gw:8080", std::nullopt);
    const GatewayClient logged_in("http://gw:8080", BasicCredentials{"a", "b"});
    CHECK_NOTHROW(expect_success({204, "", {}}, "x", anonymous));
    CHECK_THROWS_WITH_AS(expect_success({401, "", {}}, "x", anonymous),
                         "unauthorized: the gateway at http://gw:8080 needs credentials: run faas "
                         "login -g http://gw:8080",
                         CliError);
    CHECK_THROWS_WITH_AS(expect_success({401, "", {}}, "x", logged_in),
                         doctest::Contains("refused the saved credentials"), CliError);
    CHECK_THROWS_WITH_AS(
        expect_success({400, "  bad replicas\nsecond line\n", {}}, "cannot scale f", anonymous),
        "cannot scale f: bad replicas (400)", CliError);
    CHECK_THROWS_WITH_AS(expect_success({502, "", {}}, "cannot list functions", anonymous),
                         "cannot list functions: the gateway answered 502", CliError);
}

TEST_CASE("logs: lines split across chunks, non-JSON lines, a line over 1 MiB, no final newline") {
    const std::string huge((size_t{1} << 20) + 10, 'h');
    std::vector<std::string> chunks = {
        R"({"name":"fn","instance":"fn-0","timestamp":"2026-12-02T13:08:06Z","text":"fir)",
        "st\\n\"}\n",
        "not json at "
        "all\n{\"name\":\"fn\",\"instance\":\"fn-1\",\"timestamp\":\"t\",\"text\":\"second\"}\r\n",
        huge + "\n", R"({"name":"fn","instance":"fn-0","timestamp":"t2","text":"last"})"};
    std::string query;
    FakeGateway fake([&](httplib::Server& server) {
        server.Get("/system/logs", [&](const httplib::Request& req, httplib::Response& res) {
            query = req.target;
            res.set_chunked_content_provider(
                "application/x-ndjson",
                [&, next = size_t{0}](size_t, httplib::DataSink& sink) mutable {
                    if (next == chunks.size()) {
                        sink.done();
                        return true;
                    }
                    const auto& chunk = chunks[next++];
                    return sink.write(chunk.data(), chunk.size());
                });
        });
    });
    MapEnv env({{"OPENFAAS_URL", fake.url()}});
    std::istringstream in;
    std::ostringstream out, err;
    faas::test::TempDir home;
    Context ctx{env, in, out, err, {}, home.path()};
    const std::vector<std::string> words = {"logs", "fn",      "--tail",
                                            "5",    "--since", "2026-12-02T00:00:00Z"};
    CHECK(run(ctx, words) == 0);
    CHECK(err.str() == "");
    CHECK(query == "/system/logs?name=fn&tail=5&since=2026-12-02T00%3A00%3A00Z");
    const std::string expected =
        "2026-12-02T13:08:06Z fn (fn-0) first\n"
        "not json at all\n"
        "t fn (fn-1) second\n" +
        huge.substr(0, size_t{1} << 20) + "\n" + huge.substr(size_t{1} << 20) +
        "\n"
        "t2 fn (fn-0) last\n";
    // Compared line by line: a failure should not print megabytes.
    const auto lines_of = [](const std::string& text) {
        std::vector<std::string> lines;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) lines.push_back(line);
        return lines;
    };
    const auto got = lines_of(out.str());
    const auto want = lines_of(expected);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i].size() == want[i].size());
        CHECK((got[i] == want[i]));
    }
    CHECK(out.str().back() == '\n');

    std::ostringstream raw_out;
    Context raw_ctx{env, in, raw_out, err, {}, home.path()};
    const std::vector<std::string> raw_words = {"logs", "fn", "-o", "json", "--follow"};
    CHECK(run(raw_ctx, raw_words) == 0);
    CHECK(err.str() == "");
    CHECK(query == "/system/logs?name=fn&follow=true");
    CHECK((raw_out.str().rfind(chunks[0] + "st\\n\"}\nnot json at all\n", 0) == 0));
}

}  // namespace faas::cli
