// Builds in the gateway, against a scripted gateway on port 0: what `faas up --remote-build` sends
// (a gzip'd tar of the shrinkwrapped context and the X-Build-Deployment header), how it follows
// and reports a build, and what rollback and `faas builds ...` print.
#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "app.h"
#include "archive.h"
#include "cli/unit/fake_gateway.h"
#include "support/files.h"
#include "support/process.h"
#include "time_format.h"

using namespace faas;
using namespace faas::cli;
namespace fs = std::filesystem;
using faas::test::read_text;
using faas::test::write_text;
using nlohmann::json;

using faas::test::FakeGateway;

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

struct CliRun {
    int code;
    std::string out;
    std::string err;
};

std::ostream& operator<<(std::ostream& os, const CliRun& r) {
    return os << "exit " << r.code << "\n--- stdout:\n" << r.out << "--- stderr:\n" << r.err;
}

CliRun run_cli(const std::string& gateway, std::vector<std::string> words) {
    const MapEnv env({{"OPENFAAS_URL", gateway}});
    std::istringstream in;
    std::ostringstream out, err;
    Context ctx{env, in, out, err, {}, "/nonexistent-home"};
    const int code = run(ctx, words);
    return {code, out.str(), err.str()};
}

/// Every file under `dir` with its content, by relative path.
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_regular_file())
            files[fs::relative(entry.path(), dir).string()] = read_text(entry.path());
    return files;
}

/// A project with template mylang (build option dev) and functions hello and broken.
void make_project(const fs::path& dir) {
    write_text(dir / "template" / "mylang" / "template.yml",
               "language: mylang\nfprocess: cat\nbuild_options:\n  - name: dev\n    packages: "
               "[gcc, make]\n");
    write_text(dir / "template" / "mylang" / "Dockerfile", "FROM scratch\n");
    write_text(dir / "template" / "mylang" / "index.sh", "#!/bin/sh\n");
    write_text(dir / "template" / "mylang" / "function" / "handler.sh", "placeholder\n");
    write_text(dir / "hello" / "handler.sh", "echo hello\n");
    write_text(dir / "hello" / "lib" / "util.sh", "util\n");
    write_text(dir / "broken" / "handler.sh", "exit 1\n");
    write_text(dir / "stack.yml",
               "provider:\n  name: openfaas\nfunctions:\n"
               "  hello:\n    lang: mylang\n    handler: ./hello\n    image: hello:latest\n"
               "    build_options: [dev]\n    environment:\n      A: \"1\"\n      G: grüß\n"
               "    labels:\n      team: blue\n"
               "  broken:\n    lang: mylang\n    handler: ./broken\n    image: broken:latest\n");
}

json record(const std::string& id, const std::string& function, const std::string& version,
            const std::string& status) {
    return {{"id", id},
            {"function", function},
            {"namespace", ""},
            {"lang", "mylang"},
            {"status", status},
            {"version", version},
            {"image", function + ":" + version},
            {"source", "archive"},
            {"createdAt", rfc3339_nano(std::chrono::system_clock::now() - std::chrono::hours(2))},
            {"stages", json::array()}};
}

json finished(json r, const std::string& status, std::vector<double> seconds,
              const std::string& error = "") {
    r["status"] = status;
    r["finishedAt"] = rfc3339_nano(std::chrono::system_clock::now());
    const char* names[] = {"queued", "building", "deploying"};
    for (size_t i = 0; i < seconds.size(); ++i)
        r["stages"].push_back({{"stage", names[i]}, {"startedAt", "t"}, {"seconds", seconds[i]}});
    r["stages"].push_back({{"stage", status}, {"startedAt", "t"}});
    if (!error.empty()) r["error"] = error;
    return r;
}

std::string ndjson(const std::vector<json>& lines) {
    std::string out;
    for (const auto& line : lines) out += line.dump() + "\n";
    return out;
}

/// Serves `body` in pieces of 7 bytes, so lines arrive split across chunks.
void serve_in_pieces(httplib::Response& res, std::string body) {
    res.set_chunked_content_provider(
        "application/x-ndjson", [body = std::move(body)](size_t offset, httplib::DataSink& sink) {
            if (offset >= body.size()) {
                sink.done();
                return true;
            }
            return sink.write(body.data() + offset, std::min<size_t>(7, body.size() - offset));
        });
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("up --remote-build sends the context and deployment, follows the log, reports each") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    ChangeDir cd(root);

    std::mutex mutex;
    std::map<std::string, httplib::Request> posted;  // by function
    FakeGateway fake([&](httplib::Server& server) {
        server.Post("/system/builds", [&](const httplib::Request& req, httplib::Response& res) {
            const json deployment =
                json::parse(req.get_header_value("X-Build-Deployment"), nullptr, false);
            const std::string fn = deployment.value("service", "");
            {
                std::lock_guard lock(mutex);
                posted[fn] = req;
            }
            const std::string id = fn == "hello" ? "b1" : "b2";
            res.status = 202;
            res.set_header("Location", "/system/builds/" + id);
            res.set_content(record(id, fn, fn == "hello" ? "v3" : "v1", "queued").dump(),
                            "application/json");
        });
        server.Get("/system/builds/b1/logs", [](const httplib::Request& req,
                                                httplib::Response& res) {
            CHECK(req.get_param_value("follow") == "true");
            serve_in_pieces(
                res, ndjson({{{"timestamp", "t1"}, {"stage", "building"}, {"text", "Step 1\n"}},
                             {{"timestamp", "t2"}, {"stage", "building"}, {"text", "installing"}},
                             {{"timestamp", "t3"}, {"stage", "deploying"}, {"text", "rolling"}}}));
        });
        server.Get("/system/builds/b2/logs", [](const httplib::Request&, httplib::Response& res) {
            serve_in_pieces(
                res, ndjson({{{"timestamp", "t1"}, {"stage", "building"}, {"text", "FAIL test"}}}));
        });
        server.Get("/system/builds/b1", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(
                finished(record("b1", "hello", "v3", ""), "ready", {0.5, 3.0, 0.7}).dump(),
                "application/json");
        });
        server.Get("/system/builds/b2", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(finished(record("b2", "broken", "v1", ""), "failed", {0.1, 0.9},
                                     "handler_test.sh failed: exit status 1")
                                .dump(),
                            "application/json");
        });
    });

    const auto result =
        run_cli(fake.url(), {"up", "--remote-build", "-b", "K=v", "-e", "B=2", "--skip-push"});
    INFO(result);
    CHECK(result.code == 1);
    CHECK(result.err == "faas: the gateway's build failed for broken (see above)\n");
    CHECK(contains(result.out,
                   "Note: --skip-push does not apply when the gateway builds; ignored.\n"));

    // Each function's lines, in order (the two follow at once, so their lines interleave).
    auto lines_of = [&](const std::string& fn) {
        std::vector<std::string> lines;
        std::istringstream in(result.out);
        for (std::string line; std::getline(in, line);)
            if (line.rfind("[" + fn + "] ", 0) == 0) lines.push_back(line.substr(fn.size() + 3));
        return lines;
    };
    const auto hello = lines_of("hello");
    REQUIRE(hello.size() == 8);
    CHECK(hello[0] == "build context build/hello (template mylang)");
    CHECK(hello[1].rfind("sent ", 0) == 0);
    CHECK(contains(hello[1], ": build b1 (v3) is queued"));
    CHECK(hello[2] == "building");
    CHECK(hello[3] == "Step 1");
    CHECK(hello[4] == "installing");
    CHECK(hello[5] == "deploying");
    CHECK(hello[6] == "rolling");
    CHECK(hello[7] == "v3 is ready in 4.2s: " + fake.url() + "/function/hello");
    const auto broken = lines_of("broken");
    REQUIRE(broken.size() == 5);
    CHECK(broken[2] == "building");
    CHECK(broken[3] == "FAIL test");
    CHECK(broken[4] == "v1 failed after 1.0s: handler_test.sh failed: exit status 1");

    {
        std::lock_guard lock(mutex);
        REQUIRE(posted.count("hello") == 1);
        const auto& req = posted["hello"];
        CHECK(req.get_header_value("Content-Type") == "application/gzip");
        const std::string header = req.get_header_value("X-Build-Deployment");
        // Non-ASCII goes as \u escapes, so the header stays ASCII.
        CHECK(std::none_of(header.begin(), header.end(),
                           [](char c) { return static_cast<unsigned char>(c) >= 0x80; }));
        CHECK(contains(header, "gr\\u00fc\\u00df"));
        const json deployment = json::parse(header);
        CHECK(deployment["service"] == "hello");
        CHECK(deployment["lang"] == "mylang");
        CHECK_FALSE(deployment.contains("image"));
        CHECK(deployment["buildArgs"] == json{{"ADDITIONAL_PACKAGE", "gcc make"}, {"K", "v"}});
        CHECK(deployment["envVars"] == json{{"A", "1"}, {"B", "2"}, {"G", "grüß"}});
        CHECK(deployment["labels"] == json{{"team", "blue"}});

        // The body is a gzip'd tar of exactly the shrinkwrapped folder.
        REQUIRE(req.body.size() > 2);
        CHECK(static_cast<unsigned char>(req.body[0]) == 0x1f);
        CHECK(static_cast<unsigned char>(req.body[1]) == 0x8b);
        test::TempDir unpacked;
        extract_archive(req.body, unpacked.path(), ArchiveLimits{});
        const auto files = tree(unpacked.path());
        CHECK(files == tree(root / "build" / "hello"));
        CHECK(files.at("function/handler.sh") == "echo hello\n");
        CHECK(files.at("function/lib/util.sh") == "util\n");
        CHECK(files.at("index.sh") == "#!/bin/sh\n");
        // --build-arg goes to every function; the build option only to the one that names it.
        CHECK(json::parse(posted["broken"].get_header_value("X-Build-Deployment"))["buildArgs"] ==
              json{{"K", "v"}});
    }

    // --quiet: stage lines and the outcome only, and the log's tail of a build that failed.
    const auto quiet = run_cli(fake.url(), {"up", "--remote-build", "-q"});
    CHECK(quiet.code == 1);
    CHECK_FALSE(contains(quiet.out, "[hello] Step 1"));
    CHECK(contains(quiet.out, "[hello] deploying\n"));
    CHECK(contains(quiet.out, "[broken] FAIL test\n[broken] v1 failed after 1.0s: "));
}

TEST_CASE("up on a local-process gateway builds there, a broken log stream falls back to polling") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    ChangeDir cd(root);
    std::mutex mutex;
    int polls = 0;
    FakeGateway fake([&](httplib::Server& server) {
        server.Get("/system/info", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"provider":{"provider":"faas-local","orchestration":"local"}})",
                            "application/json");
        });
        server.Post("/system/builds", [](const httplib::Request&, httplib::Response& res) {
            res.status = 202;
            res.set_content(record("b1", "hello", "v2", "queued").dump(), "application/json");
        });
        server.Get("/system/builds/b1/logs", [](const httplib::Request&, httplib::Response& res) {
            res.status = 500;
            res.set_content("log store unavailable", "text/plain");
        });
        server.Get("/system/builds/b1", [&](const httplib::Request&, httplib::Response& res) {
            std::lock_guard lock(mutex);
            ++polls;
            json r = polls < 3 ? record("b1", "hello", "v2", "building")
                               : finished(record("b1", "hello", "v2", ""), "ready", {0.2, 1.0});
            res.set_content(r.dump(), "application/json");
        });
    });
    const auto result = run_cli(fake.url(), {"up", "hello"});
    INFO(result);
    CHECK(result.code == 0);
    CHECK(result.err == "");
    CHECK(contains(result.out, "The gateway at " + fake.url() +
                                   " runs functions as local processes, which cannot run Docker "
                                   "images: building there from source (as --remote-build).\n"));
    CHECK(contains(result.out, "[hello] building\n[hello] v2 is ready in 1.2s: " + fake.url() +
                                   "/function/hello\n"));
    CHECK_FALSE(contains(result.out, "[broken]"));
    std::lock_guard lock(mutex);
    CHECK(polls == 3);
}

TEST_CASE("up --remote-build: refusals of one function, and of the gateway as a whole") {
    test::TempDir dir;
    const fs::path root(dir.path());
    make_project(root);
    ChangeDir cd(root);
    bool builds_off = false;
    FakeGateway fake([&](httplib::Server& server) {
        server.Post("/system/builds", [&](const httplib::Request&, httplib::Response& res) {
            if (builds_off) {
                res.status = 501;
                res.set_content("builds from source are off on this gateway (set builds=true)\n",
                                "text/plain");
                return;
            }
            res.status = 413;
            res.set_content("the build context is over 20 MiB\n", "text/plain");
        });
    });
    auto result = run_cli(fake.url(), {"up", "--remote-build", "hello"});
    INFO(result);
    CHECK(result.code == 1);
    CHECK(contains(result.out,
                   "[hello] cannot build hello in the gateway: the build context is "
                   "over 20 MiB (413)\n"));
    CHECK(result.err == "faas: the gateway's build failed for hello (see above)\n");

    builds_off = true;
    result = run_cli(fake.url(), {"up", "--remote-build"});
    CHECK(result.code == 1);
    CHECK(result.err ==
          "faas: cannot build hello in the gateway: builds from source are off on this gateway "
          "(set builds=true) (501)\n");
    CHECK(run_cli(fake.url(), {"up", "--remote-build", "--timeout", "soon"}).code == 2);
}

TEST_CASE("rollback prints the version it returned to, waits for it, and shows refusals") {
    std::mutex mutex;
    int status_calls = 0;
    FakeGateway fake([&](httplib::Server& server) {
        server.Post("/system/functions/hello/rollback",
                    [](const httplib::Request&, httplib::Response& res) {
                        res.status = 202;
                        res.set_content(R"({"function":"hello","version":"v2","image":"hello:v2"})",
                                        "application/json");
                    });
        server.Get("/system/function/hello", [&](const httplib::Request&, httplib::Response& res) {
            std::lock_guard lock(mutex);
            // The old version's status first: rollback waits until the status shows v2.
            const bool rolled = ++status_calls > 1;
            res.set_content(json{{"name", "hello"},
                                 {"image", rolled ? "hello:v2" : "hello:v3"},
                                 {"availableReplicas", 1}}
                                .dump(),
                            "application/json");
        });
        server.Post("/system/functions/ghost/rollback",
                    [](const httplib::Request&, httplib::Response& res) {
                        res.status = 404;
                        res.set_content("function ghost has no builds\n", "text/plain");
                    });
        server.Post("/system/functions/first/rollback",
                    [](const httplib::Request&, httplib::Response& res) {
                        res.status = 400;
                        res.set_content("first has no version before v1\n", "text/plain");
                    });
    });
    auto result = run_cli(fake.url(), {"rollback", "hello"});
    INFO(result);
    CHECK(result.code == 0);
    CHECK(result.out == "Rolled back hello to v2 (hello:v2)\n");
    {
        std::lock_guard lock(mutex);
        CHECK(status_calls == 2);
    }
    result = run_cli(fake.url(), {"rollback", "ghost"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: cannot roll back ghost: function ghost has no builds (404)\n");
    result = run_cli(fake.url(), {"rollback", "first"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: cannot roll back first: first has no version before v1 (400)\n");
    CHECK(run_cli(fake.url(), {"rollback"}).code == 2);
}

TEST_CASE("builds list, get, logs and cancel") {
    const std::string long_error(100, 'e');
    std::string list_target;
    std::mutex mutex;
    FakeGateway fake([&](httplib::Server& server) {
        server.Get("/system/builds", [&](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(mutex);
                list_target = req.target;
            }
            json list = json::array(
                {record("b3", "hello", "v3", "building"),
                 finished(record("b2", "hello", "v2", ""), "failed", {0.5, 1.5}, long_error),
                 finished(record("b1", "hello", "v1", ""), "ready", {1, 2, 1.2})});
            res.set_content(list.dump(), "application/json");
        });
        server.Get("/system/builds/b1", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(finished(record("b1", "hello", "v1", ""), "ready", {1, 2, 1.2}).dump(),
                            "application/json");
        });
        server.Get("/system/builds/b1/logs",
                   [](const httplib::Request& req, httplib::Response& res) {
                       CHECK_FALSE(req.has_param("follow"));
                       res.set_content(
                           ndjson({{{"timestamp", "t1"}, {"stage", "building"}, {"text", "one\n"}},
                                   {{"timestamp", "t2"}, {"stage", "deploying"}, {"text", "two"}}}),
                           "application/x-ndjson");
                   });
        server.Delete("/system/builds/b3", [](const httplib::Request&, httplib::Response& res) {
            res.status = 202;
            res.set_content(finished(record("b3", "hello", "v3", ""), "cancelled", {0.1}).dump(),
                            "application/json");
        });
        server.Delete("/system/builds/b1", [](const httplib::Request&, httplib::Response& res) {
            res.status = 409;
            res.set_content("build b1 is already ready\n", "text/plain");
        });
    });

    auto result = run_cli(fake.url(), {"builds", "list", "--function", "hello", "--limit", "5"});
    INFO(result);
    REQUIRE(result.code == 0);
    {
        std::lock_guard lock(mutex);
        CHECK(list_target == "/system/builds?function=hello&limit=5");
    }
    std::vector<std::string> lines;
    std::istringstream in(result.out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "ID  Function  Version  Status    Age  Duration  Error");
    CHECK(lines[1] == "b3  hello     v3       building  2h   -");
    CHECK(lines[2] ==
          "b2  hello     v2       failed    2h   2.0s      " + std::string(57, 'e') + "...");
    CHECK(lines[3] == "b1  hello     v1       ready     2h   4.2s");
    CHECK(run_cli(fake.url(), {"builds", "list", "--limit", "0"}).code == 2);

    result = run_cli(fake.url(), {"builds", "get", "b1"});
    REQUIRE(result.code == 0);
    CHECK(contains(result.out,
                   "ID:         b1\nFunction:   hello\nVersion:    v1\nStatus:     ready\n"));
    CHECK(contains(result.out, "Duration:   4.2s\n"));
    CHECK(contains(result.out, "Stages:     queued 1.0s, building 2.0s, deploying 1.2s, ready\n"));
    result = run_cli(fake.url(), {"builds", "get", "b1", "--json"});
    CHECK(json::parse(result.out)["version"] == "v1");
    result = run_cli(fake.url(), {"builds", "get", "nope"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: build nope not found\n");

    result = run_cli(fake.url(), {"builds", "logs", "b1"});
    CHECK(result.code == 0);
    CHECK(result.out == "t1 building one\nt2 deploying two\n");

    result = run_cli(fake.url(), {"builds", "cancel", "b3"});
    CHECK(result.code == 0);
    CHECK(result.out == "Cancelled build b3 (hello v3).\n");
    result = run_cli(fake.url(), {"builds", "cancel", "b1"});
    CHECK(result.code == 1);
    CHECK(result.err == "faas: cannot cancel build b1: build b1 is already ready (409)\n");
}

TEST_CASE("the new commands are in the help and the bash completion") {
    const auto help = run_cli("http://127.0.0.1:1", {"--help"});
    CHECK(contains(help.out, "  rollback "));
    CHECK(contains(help.out, "  builds list "));
    CHECK(contains(help.out, "  builds cancel "));
    const auto completion = run_cli("http://127.0.0.1:1", {"completion", "bash"});
    CHECK(contains(completion.out, "builds) subs=\"list get logs cancel \" ;;"));
    CHECK(contains(completion.out, "\"up\") flags=\""));
    CHECK(contains(completion.out, "--remote-build"));
}
