// The OpenFaaS admin API of the real gateway with the local provider.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "integration/gateway_fixture.h"
#include "routes.h"
#include "support/wait.h"

using namespace faas::test;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("deploy, list, get, update, scale and delete with OpenFaaS status codes") {
    GatewayFixture gateway;
    auto http = gateway.client();
    json deployment = {{"service", "echo"},
                       {"image", "functions/echo:1"},
                       {"envProcess", "cat"},
                       {"envVars", {{"a", "1"}}},
                       {"labels", {{"team", "x"}}},
                       {"constraints", json::array()},
                       {"limits", {{"memory", "64m"}}}};
    CHECK(gateway.deploy(deployment) == 202);
    CHECK(gateway.deploy(deployment) == 409);  // duplicate: nothing changed
    REQUIRE(gateway.wait_available("echo", 1));

    auto status = gateway.status("echo");
    CHECK(status["image"] == "functions/echo:1");
    CHECK(status["envVars"] == json({{"a", "1"}}));
    // What was deployed, plus the label every OpenFaaS provider reports.
    CHECK(status["labels"] == json({{"team", "x"}, {"faas_function", "echo"}}));
    CHECK(status["constraints"] == json::array());
    CHECK(status["limits"] == json({{"memory", "64m"}}));
    CHECK_FALSE(status.contains("requests"));
    CHECK(status["createdAt"].is_string());

    auto list = http.Get("/system/functions");
    REQUIRE(list);
    CHECK(list->status == 200);
    auto functions = json::parse(list->body);
    REQUIRE(functions.size() == 1);
    CHECK(functions[0]["name"] == "echo");

    for (const char* bad : {"{", "[]", R"({"image":"x"})", R"({"service":"x"})",
                            R"({"service":"Bad","image":"x","envProcess":"cat"})"}) {
        CAPTURE(bad);
        auto res = http.Post("/system/functions", bad, "application/json");
        REQUIRE(res);
        CHECK(res->status == 400);
        CHECK_FALSE(res->body.empty());
    }
    auto no_process =
        http.Post("/system/functions", R"({"service":"x","image":"x"})", "application/json");
    REQUIRE(no_process);
    CHECK(no_process->status == 400);
    CHECK(json::parse(http.Get("/system/functions")->body).size() == 1);

    auto unknown_update =
        http.Put("/system/functions", R"({"service":"ghost","image":"x","envProcess":"cat"})",
                 "application/json");
    REQUIRE(unknown_update);
    CHECK(unknown_update->status == 404);
    auto unknown_delete =
        http.Delete("/system/functions", R"({"functionName":"ghost"})", "application/json");
    REQUIRE(unknown_delete);
    CHECK(unknown_delete->status == 404);
    auto unknown_get = http.Get("/system/function/ghost");
    REQUIRE(unknown_get);
    CHECK(unknown_get->status == 404);
    auto unknown_scale =
        http.Post("/system/scale-function/ghost", R"({"replicas":1})", "application/json");
    REQUIRE(unknown_scale);
    CHECK(unknown_scale->status == 404);

    deployment["image"] = "functions/echo:2";
    deployment["envVars"] = {{"a", "2"}};
    auto update = http.Put("/system/functions", deployment.dump(), "application/json");
    REQUIRE(update);
    CHECK(update->status == 202);
    CHECK(gateway.status("echo")["image"] == "functions/echo:2");

    auto scale = http.Post("/system/scale-function/echo", R"({"serviceName":"echo","replicas":2})",
                           "application/json");
    REQUIRE(scale);
    CHECK(scale->status == 202);
    CHECK(gateway.wait_available("echo", 2));

    auto removed =
        http.Delete("/system/functions", R"({"functionName":"echo"})", "application/json");
    REQUIRE(removed);
    CHECK(removed->status == 202);
    CHECK(json::parse(http.Get("/system/functions")->body).empty());
    CHECK(wait_until([&] { return gateway.replica_pids().empty(); }, 15s));
    auto gone = http.Post("/function/echo", "x", "text/plain");
    REQUIRE(gone);
    CHECK(gone->status == 404);
}

TEST_CASE("info and namespaces") {
    GatewayFixture gateway(GatewayEnv{{"function_namespace", "fns"}});
    auto http = gateway.client();
    auto info = json::parse(http.Get("/system/info")->body);
    CHECK(info["provider"]["provider"] == "faas-local");
    CHECK(info["provider"]["orchestration"] == "local");
    CHECK(info["version"]["release"].is_string());
    CHECK(info["arch"].is_string());
    CHECK(json::parse(http.Get("/system/namespaces")->body) == json::array({"fns"}));
    auto healthz = http.Get("/healthz");
    REQUIRE(healthz);
    CHECK(healthz->status == 200);
}

namespace {
std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}
bool has_line(const std::string& response, const std::string& line) {
    return response.find("\r\n" + line + "\r\n") != std::string::npos;
}
}  // namespace

TEST_CASE("a method a route does not take is 405 with Allow, other paths 404, each with a body") {
    GatewayFixture gateway;
    auto exchange = [&](const std::string& method, const std::string& path) {
        return raw_exchange(gateway.port(), method + " " + path +
                                                " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                                "Connection: close\r\n\r\n");
    };
    struct Case {
        const char* method;
        const char* path;
        const char* allow;
    };
    for (const Case& c : {Case{"PATCH", "/system/functions", "GET, HEAD, POST, PUT, DELETE"},
                          Case{"BREW", "/system/functions", "GET, HEAD, POST, PUT, DELETE"},
                          Case{"POST", "/system/info", "GET, HEAD"},
                          Case{"DELETE", "/system/function/echo", "GET, HEAD"},
                          Case{"GET", "/system/scale-function/echo", "POST"},
                          Case{"PUT", "/system/alert", "POST"}, Case{"GET", "/", "POST"}}) {
        CAPTURE(c.method);
        CAPTURE(c.path);
        auto response = exchange(c.method, c.path);
        CHECK(status_line(response) == "HTTP/1.1 405 Method Not Allowed");
        CHECK(has_line(response, std::string("Allow: ") + c.allow));
        CHECK(response.find(std::string("Method ") + c.method + " is not allowed on " + c.path) !=
              std::string::npos);
    }
    for (const char* path :
         {"/system/nothing", "/system/function/", "/system/function/a/b", "/x"}) {
        CAPTURE(path);
        auto response = exchange("GET", path);
        CHECK(status_line(response) == "HTTP/1.1 404 Not Found");
        CHECK(response.find("404 page not found") != std::string::npos);
    }
    // The route table, row by row: every method a path takes reaches a handler of ours (a 404
    // for the unknown function "echo" is the handler's, with its own message), and a method it
    // does not take is 405 with exactly the path's Allow.
    for (const auto& row : faas::gateway::kRoutes) {
        if (!row.admin && row.handler == nullptr) continue;  // function calls: invoke tests
        std::string path(row.pattern);
        if (auto at = path.find("{name}"); at != std::string::npos) path.replace(at, 6, "echo");
        const auto match = faas::gateway::find_route("NOPE", path);  // a 405's Allow
        REQUIRE_FALSE(match.allowed.empty());
        std::string_view allowed = match.allowed;
        while (!allowed.empty()) {
            auto comma = allowed.find(',');
            std::string method(allowed.substr(0, comma));
            allowed = comma == std::string_view::npos ? "" : allowed.substr(comma + 2);
            CAPTURE(path);
            CAPTURE(method);
            auto response = exchange(method, path);
            CHECK(status_line(response) != "HTTP/1.1 405 Method Not Allowed");
            CHECK(response.find("404 page not found") == std::string::npos);
        }
        for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
            if (faas::gateway::find_route(method, path).route != nullptr) continue;
            CAPTURE(path);
            CAPTURE(method);
            auto response = exchange(method, path);
            CHECK(status_line(response) == "HTTP/1.1 405 Method Not Allowed");
            CHECK(response.find("Allow: " + match.allowed + "\r\n") != std::string::npos);
        }
    }
}

TEST_CASE("a request without Content-Length or Transfer-Encoding has an empty body") {
    // RFC 9112 6.3. `curl -X POST` sends no length; the answer must not wait for read_timeout.
    GatewayFixture gateway(GatewayEnv{{"read_timeout", "30s"}});
    const auto started = std::chrono::steady_clock::now();
    auto response = raw_exchange(
        gateway.port(), "POST /system/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        10s);
    CHECK(status_line(response) == "HTTP/1.1 400 Bad Request");
    CHECK(response.find("empty request body") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("basic auth guards /system/* with no side effect, functions stay open") {
    TempDir secrets;
    std::ofstream(secrets.path() + "/basic-auth-user") << "admin\n";
    std::ofstream(secrets.path() + "/basic-auth-password") << "s3cret\n";
    GatewayFixture gateway(
        GatewayEnv{{"basic_auth", "true"}, {"secret_mount_path", secrets.path()}});
    auto http = gateway.client();
    json deployment = {{"service", "echo"}, {"image", "x"}, {"envProcess", "cat"}};

    auto denied = http.Post("/system/functions", deployment.dump(), "application/json");
    REQUIRE(denied);
    CHECK(denied->status == 401);
    CHECK(denied->get_header_value("WWW-Authenticate") == "Basic realm=\"Restricted\"");
    http.set_basic_auth("admin", "wrong");
    CHECK(http.Post("/system/functions", deployment.dump(), "application/json")->status == 401);
    CHECK(http.Post("/system/secrets", R"({"name":"k","value":"v"})", "application/json")->status ==
          401);
    CHECK(http.Get("/system/functions")->status == 401);
    CHECK(http.Get("/system/info")->status == 401);

    http.set_basic_auth("admin", "s3cret");
    CHECK(json::parse(http.Get("/system/functions")->body).empty());  // nothing was deployed
    CHECK(json::parse(http.Get("/system/secrets")->body).empty());    // nor created
    CHECK(gateway.replica_pids().empty());
    gateway.headers = {{"Authorization", "Basic YWRtaW46czNjcmV0"}};
    gateway.deploy_ready("echo", "cat");

    auto open = gateway.client();
    CHECK(open.Post("/function/echo", "hi", "text/plain")->body == "hi");
    CHECK(open.Get("/healthz")->status == 200);
    CHECK(open.Get("/metrics")->status == 200);
}

TEST_CASE("logs: newline-delimited JSON with tail, and follow streams new lines") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat");
    auto http = gateway.client();
    for (int i = 0; i < 3; ++i) REQUIRE(http.Post("/function/echo", "x", "text/plain"));
    REQUIRE(wait_until([&] {
        auto r = http.Get("/system/logs?name=echo");
        return r && r->body.find("Forking fprocess") != std::string::npos;
    }));
    auto res = http.Get("/system/logs?name=echo&tail=2");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "application/x-ndjson");
    int lines = 0;
    std::istringstream in(res->body);
    for (std::string line; std::getline(in, line);) {
        auto entry = json::parse(line);
        CHECK(entry["name"] == "echo");
        CHECK(entry["namespace"] == "openfaas-fn");
        CHECK(entry["instance"].get<std::string>().rfind("echo-", 0) == 0);
        CHECK(entry["timestamp"].is_string());
        CHECK(entry["text"].is_string());
        ++lines;
    }
    CHECK(lines == 2);
    CHECK(http.Get("/system/logs?name=ghost")->status == 404);
    CHECK(http.Get("/system/logs?name=..")->status == 404);  // no function has that name
    CHECK(http.Get("/system/logs")->status == 400);
    CHECK(http.Get("/system/logs?name=echo&since=yesterday")->status == 400);
    CHECK(http.Get("/system/logs?name=echo&since=2100-01-01T00:00:00Z")->body.empty());

    // Follow: a line written after the request starts arrives on the open stream.
    std::string streamed;
    std::thread caller([&] {
        std::this_thread::sleep_for(300ms);
        auto c = gateway.client();
        c.Post("/function/echo", "late", "text/plain");
    });
    auto follower = gateway.client(5s);
    follower.Get("/system/logs?name=echo&tail=0&follow=true", [&](const char* data, size_t length) {
        streamed.append(data, length);
        return streamed.find("Wrote") == std::string::npos;  // stop once the new line arrived
    });
    caller.join();
    CHECK(streamed.find("Wrote") != std::string::npos);
}

TEST_CASE("alerts scale up by the factor and back to min on resolve") {
    GatewayFixture gateway;
    gateway.deploy_ready("echo", "cat", 1,
                         {{"labels",
                           {{"com.openfaas.scale.min", "1"},
                            {"com.openfaas.scale.max", "4"},
                            {"com.openfaas.scale.factor", "50"}}}});
    auto http = gateway.client();
    auto alert = [&](const char* state) {
        json body = {{"status", state},
                     {"receiver", "scale-up"},
                     {"alerts", json::array({{{"status", state},
                                              {"labels",
                                               {{"alertname", "APIHighInvocationRate"},
                                                {"function_name", "echo"}}}}})}};
        return http.Post("/system/alert", body.dump(), "application/json");
    };
    auto fired = alert("firing");
    REQUIRE(fired);
    CHECK(fired->status == 200);
    CHECK(gateway.status("echo")["replicas"] == 3);
    alert("firing");
    CHECK(gateway.status("echo")["replicas"] == 4);  // bounded by max
    CHECK(gateway.wait_available("echo", 4));
    alert("resolved");
    CHECK(gateway.status("echo")["replicas"] == 1);
    CHECK(gateway.wait_available("echo", 1));
    CHECK(http.Post("/system/alert", "nope", "application/json")->status == 400);
    auto unknown = http.Post(
        "/system/alert", R"({"alerts":[{"status":"firing","labels":{"function_name":"ghost"}}]})",
        "application/json");
    REQUIRE(unknown);
    CHECK(unknown->status == 500);
}

TEST_CASE("secrets: CRUD, values never listed or logged, files handed to the function") {
    TempDir scripts;
    auto reader = write_script(scripts, "read-secret.sh", "cat \"${secret_mount_path}api-key\"\n");
    GatewayFixture gateway;
    auto http = gateway.client();
    CHECK(http.Post("/system/secrets", R"({"name":"api-key","value":"t0p-s3cret"})",
                    "application/json")
              ->status == 201);
    CHECK(http.Post("/system/secrets", R"({"name":"api-key","value":"again"})", "application/json")
              ->status == 409);
    CHECK(http.Post("/system/secrets", R"({"name":"../x","value":"v"})", "application/json")
              ->status == 400);
    CHECK(http.Put("/system/secrets", R"({"name":"ghost","value":"v"})", "application/json")
              ->status == 404);
    auto list = http.Get("/system/secrets");
    REQUIRE(list);
    CHECK(list->body.find("api-key") != std::string::npos);
    CHECK(list->body.find("t0p-s3cret") == std::string::npos);

    auto missing_secret = gateway.deploy(
        {{"service", "nosecret"}, {"image", "x"}, {"envProcess", "cat"}, {"secrets", {"absent"}}});
    CHECK(missing_secret == 404);  // the secret is not found, from either provider

    gateway.deploy_ready("reader", "sh " + reader, 1, {{"secrets", {"api-key"}}});
    CHECK(http.Post("/function/reader", "", "text/plain")->body == "t0p-s3cret");
    CHECK(http.Put("/system/secrets", R"({"name":"api-key","value":"n3w"})", "application/json")
              ->status == 200);
    CHECK(http.Post("/function/reader", "", "text/plain")->body == "n3w");

    auto functions = http.Get("/system/functions")->body;
    CHECK(functions.find("n3w") == std::string::npos);
    CHECK(gateway.process().output().find("n3w") == std::string::npos);
    CHECK(gateway.process().output().find("t0p-s3cret") == std::string::npos);

    auto removed = http.Delete("/system/secrets", R"({"name":"api-key"})", "application/json");
    REQUIRE(removed);
    CHECK(removed->status == 200);  // faas-cli takes only 200 and 202 as success
    CHECK(http.Delete("/system/secrets", R"({"name":"api-key"})", "application/json")->status ==
          404);
    CHECK(json::parse(http.Get("/system/secrets")->body).empty());
}

TEST_CASE("secrets at /var/openfaas/secrets, read-only, seen by that replica alone") {
    TempDir scripts;
    auto reader = write_script(
        scripts, "where.sh",
        "echo \"$secret_mount_path\"\n"
        "echo \"$(cat /var/openfaas/secrets/db-password 2>/dev/null || echo absent)\"\n"
        "touch \"${secret_mount_path}x\" 2>/dev/null && echo writable "
        "|| echo read-only\n");
    GatewayFixture gateway;
    auto http = gateway.client();
    REQUIRE(
        http.Post("/system/secrets", R"({"name":"db-password","value":"pw1"})", "application/json")
            ->status == 201);
    gateway.deploy_ready("where", "sh " + reader, 1, {{"secrets", {"db-password"}}});
    auto answer = http.Post("/function/where", "", "text/plain");
    REQUIRE(answer);
    if (::geteuid() == 0) {
        CHECK(answer->body == "/var/openfaas/secrets/\npw1\nread-only\n");
        // The bind is the replica's own: the host's folder stays as it was.
        CHECK_FALSE(std::filesystem::exists("/var/openfaas/secrets/db-password"));
        CHECK(http.Put("/system/secrets", R"({"name":"db-password","value":"pw2"})",
                       "application/json")
                  ->status == 200);
        CHECK(http.Post("/function/where", "", "text/plain")->body ==
              "/var/openfaas/secrets/\npw2\nread-only\n");
    } else {
        // Not root: no mount namespace; the documented fallback is the replica's own folder.
        MESSAGE("not root: checking the fallback, secrets in the replica's folder");
        CHECK(answer->body.find("/secrets/\nabsent\n") != std::string::npos);
    }
}
