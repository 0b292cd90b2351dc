// Runs `faas` commands in-process against a real gateway (local provider): each command gets its
// own streams and a MapEnv with OPENFAAS_URL, and a private HOME and OPENFAAS_CONFIG.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "env.h"
#include "integration/gateway_fixture.h"
#include "support/process.h"

namespace faas::test {

struct CliResult {
    int code = -1;
    std::string out;
    std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const CliResult& r) {
    return os << "exit " << r.code << "\n--- stdout:\n" << r.out << "--- stderr:\n" << r.err;
}

/// The CLI as a user at one gateway sees it.
class Cli {
  public:
    explicit Cli(std::string gateway_url) : url_(std::move(gateway_url)) {}

    const std::string& url() const { return url_; }
    std::string home() const { return home_.path(); }
    /// Where `faas login` writes: $OPENFAAS_CONFIG/config.yml.
    std::filesystem::path config_file() const {
        return std::filesystem::path(home_.path()) / "openfaas" / "config.yml";
    }

    /// Runs `faas WORDS...` with `input` as standard input.
    CliResult run(std::vector<std::string> words, const std::string& input = {}) const {
        MapEnv env({{"OPENFAAS_URL", url_},
                    {"OPENFAAS_CONFIG", home_.path() + "/openfaas"},
                    {"HOME", home_.path()}});
        std::istringstream in(input);
        std::ostringstream out, err;
        cli::Context ctx{env, in, out, err, {}, home_.path()};
        CliResult result;
        result.code = cli::run(ctx, words);
        result.out = out.str();
        result.err = err.str();
        return result;
    }

  private:
    std::string url_;
    TempDir home_;
};

inline std::string gateway_url(const GatewayFixture& gateway) {
    return "http://127.0.0.1:" + std::to_string(gateway.port());
}

/// Writes `text` to `dir`/`name` and returns the path.
inline std::string write_file(const TempDir& dir, const std::string& name,
                              const std::string& text) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The lines of `text`.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace faas::test
