// Build requests: what the JSON form accepts and refuses, and the contexts it lays out from the
// project's own templates.
#include "build/build_request.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "support/files.h"

namespace faas::test {
namespace {

namespace fs = std::filesystem;
using namespace faas::gateway;
using nlohmann::json;

const fs::path kTemplates = fs::path(FAAS_SOURCE_DIR) / "templates";

std::string refusal(const json& body, const BuildRequestLimits& limits = {}) {
    try {
        parse_json_build(body.dump(), "openfaas-fn", limits);
    } catch (const BadRequest& e) {
        return std::string("400 ") + e.what();
    } catch (const PayloadTooLarge& e) {
        return std::string("413 ") + e.what();
    } catch (const NotFound& e) {
        return std::string("404 ") + e.what();
    }
    return "accepted";
}

struct TempDir {
    fs::path path;
    TempDir() {
        char name[] = "/tmp/build-request-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("a JSON build request: the build's fields apart, the rest a deployment") {
    json body{{"service", "hello"},
              {"lang", "python3-http"},
              {"code", "def handle(e, c):\n    return 'hi'\n"},
              {"files", {{"requirements.txt", "requests\n"}}},
              {"buildArgs", {{"TEST_ENABLED", "false"}}},
              {"envVars", {{"A", "1"}}},
              {"labels", {{"com.openfaas.scale.min", "2"}}}};
    auto request = parse_json_build(body.dump(), "openfaas-fn", {});
    CHECK(request.lang == "python3-http");
    CHECK(request.code == "def handle(e, c):\n    return 'hi'\n");
    CHECK(request.files.at("requirements.txt") == "requests\n");
    CHECK(request.build_args.at("TEST_ENABLED") == "false");
    CHECK(request.deployment.service == "hello");
    CHECK(request.deployment.env_vars.at("A") == "1");
    CHECK(request.deployment.image == kPendingImage);
    CHECK_FALSE(request.deployment.raw.contains("code"));
    CHECK_FALSE(request.deployment.raw.contains("files"));
    CHECK_FALSE(request.deployment.raw.contains("lang"));
}

TEST_CASE("a JSON build request is refused with the field it gets wrong") {
    const json good{{"service", "hello"}, {"lang", "python3-http"}, {"code", "x"}};
    CHECK(refusal(good) == "accepted");
    auto without = [&](const char* field) {
        json body = good;
        body.erase(field);
        return body;
    };
    auto with = [&](const char* field, json value) {
        json body = good;
        body[field] = std::move(value);
        return body;
    };
    CHECK(refusal(without("service")) == "400 'service' is required");
    CHECK(refusal(without("lang")) == "400 'lang' is required (a template name)");
    CHECK(refusal(without("code")) == "400 'code' is required (the handler file), or 'files'");
    CHECK(refusal(with("service", "Hello_World")).rfind("400 'service' must be a DNS label", 0) ==
          0);
    CHECK(refusal(with("lang", "../python3")).rfind("400 'lang' must be a template name", 0) == 0);
    CHECK(refusal(with("lang", "")).rfind("400 'lang' must be a template name", 0) == 0);
    CHECK(refusal(with("code", 12)) == "400 'code' must be a string");
    CHECK(refusal(with("image", "evil:latest")) ==
          "400 'image' is what the build makes: leave it out");
    for (const char* path : {"../x", "/etc/passwd", "a/../../b", "", "a//b", "./a", "a\\b"})
        CHECK(refusal(with("files", {{path, "x"}})).find("must be a relative path") !=
              std::string::npos);
    CHECK(refusal(with("files", {{"a", 1}})) == "400 'files.a' must be a string");
    CHECK(refusal(with("buildArgs", {{"A-B", "x"}})).rfind("400 'buildArgs.A-B'", 0) == 0);
    CHECK(refusal(with("namespace", "other")).rfind("404 namespace 'other'", 0) == 0);

    BuildRequestLimits small;
    small.max_context_bytes = 64;
    CHECK(refusal(with("code", std::string(100, 'x')), small).rfind("413 ", 0) == 0);
    small = {};
    small.max_files = 2;
    CHECK(refusal(with("files", {{"a", ""}, {"b", ""}, {"c", ""}}), small) ==
          "400 'files' holds more than 2 files");
    CHECK(refusal(json::array()) == "400 request body must be a JSON object");
}

TEST_CASE("the context of a JSON build: the template, its support files, the code, the files") {
    TempDir dir;
    json body{{"service", "hello"},
              {"lang", "python3-http"},
              {"code", "def handle(event, context):\n    return 'hi'\n"},
              {"files", {{"lib/util.py", "X = 1\n"}, {"requirements.txt", ""}}}};
    auto request = parse_json_build(body.dump(), "openfaas-fn", {});
    const auto context = dir.path / "ctx";
    make_build_context(request, kTemplates, context, {});
    CHECK(fs::exists(context / "template.yml"));
    CHECK(fs::exists(context / "Dockerfile"));
    CHECK(fs::exists(context / "index.py"));
    CHECK(read_text(context / "function" / "handler.py") == *request.code);
    CHECK(read_text(context / "function" / "lib" / "util.py") == "X = 1\n");
    CHECK(fs::exists(context / "function" / "__init__.py"));
    // The starter's test checks the starter's greeting: not this code's.
    CHECK_FALSE(fs::exists(context / "function" / "handler_test.py"));
}

TEST_CASE("the context of a JSON build for the dockerfile template is its function folder") {
    TempDir dir;
    json body{{"service", "hello"}, {"lang", "dockerfile"}, {"code", "echo hi\n"}};
    auto request = parse_json_build(body.dump(), "openfaas-fn", {});
    make_build_context(request, kTemplates, dir.path / "ctx", {});
    CHECK(fs::exists(dir.path / "ctx" / "Dockerfile"));
    CHECK(read_text(dir.path / "ctx" / "handler.sh") == "echo hi\n");
    CHECK_FALSE(fs::exists(dir.path / "ctx" / "template.yml"));
}

TEST_CASE("an unknown lang names the templates there are") {
    TempDir dir;
    json body{{"service", "hello"}, {"lang", "cobol"}, {"code", "x"}};
    auto request = parse_json_build(body.dump(), "openfaas-fn", {});
    try {
        make_build_context(request, kTemplates, dir.path / "ctx", {});
        FAIL("accepted");
    } catch (const BadRequest& e) {
        const std::string message = e.what();
        CHECK(message.rfind("unknown lang 'cobol' (known: bash, cpp, dockerfile, go, node,", 0) ==
              0);
    }
}

TEST_CASE("an archive request takes its deployment from the header") {
    auto request =
        parse_archive_build("bytes", R"({"service":"hello","lang":"node"})", "openfaas-fn", {});
    CHECK(request.deployment.service == "hello");
    CHECK(request.lang == "node");
    CHECK(request.archive == "bytes");
    CHECK_THROWS_AS(parse_archive_build("bytes", "", "openfaas-fn", {}), BadRequest);
    CHECK_THROWS_AS(
        parse_archive_build("bytes", R"({"service":"a","code":"x"})", "openfaas-fn", {}),
        BadRequest);
    CHECK_THROWS_AS(parse_archive_build("bytes", "{not json", "openfaas-fn", {}), BadRequest);
}

}  // namespace faas::test
