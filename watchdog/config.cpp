// Reading fwatchdog's configuration from the environment.
#include "config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "settings.h"

namespace faas::watchdog {
namespace {

std::string resolve_on_path(const std::string& program, const std::string& path_variable) {
    auto is_executable = [](const std::string& candidate) {
        struct stat info {};
        return ::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
               ::access(candidate.c_str(), X_OK) == 0;
    };
    if (program.find('/') != std::string::npos) return is_executable(program) ? program : "";
    std::size_t start = 0;
    while (start <= path_variable.size()) {
        std::size_t end = path_variable.find(':', start);
        if (end == std::string::npos) end = path_variable.size();
        std::string dir = path_variable.substr(start, end - start);
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + program;
        if (is_executable(candidate)) return candidate;
        start = end + 1;
    }
    return "";
}

}  // namespace

bool is_ip_literal(const std::string& text) {
    unsigned char address[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, text.c_str(), address) == 1 ||
           ::inet_pton(AF_INET6, text.c_str(), address) == 1;
}

const char* to_string(Mode mode) {
    switch (mode) {
        case Mode::kSerializing:
            return "serializing";
        case Mode::kStreaming:
            return "streaming";
        case Mode::kHttp:
            return "http";
    }
    return "?";
}

std::vector<std::string> split_command(const std::string& command) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (char c : command) {
        if (quote) {
            if (c == quote)
                quote = 0;
            else
                word.push_back(c);
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            word.push_back(c);
            in_word = true;
        }
    }
    if (quote) return {};  // An unclosed quote: refuse rather than guess.
    if (in_word) words.push_back(std::move(word));
    return words;
}

UpstreamAddress parse_upstream_url(const std::string& variable, const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0)
        throw ConfigError(
            variable, "'" + url + "' is not an http:// URL (https upstreams are not supported)");
    std::string rest = url.substr(scheme.size());
    std::size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    UpstreamAddress address;
    if (slash != std::string::npos) {
        address.base_path = rest.substr(slash);
        while (!address.base_path.empty() && address.base_path.back() == '/')
            address.base_path.pop_back();
    }
    std::size_t colon = authority.rfind(':');
    address.host = authority.substr(0, colon);
    if (colon == std::string::npos) {
        address.port = 80;
    } else {
        auto port = parse_int(authority.substr(colon + 1));
        if (!port || *port < 1 || *port > 65535)
            throw ConfigError(variable, "'" + url + "' has no valid port");
        address.port = static_cast<int>(*port);
    }
    if (address.host.empty()) throw ConfigError(variable, "'" + url + "' has no host");
    return address;
}

Config read_config(const Env& env) {
    Config config;
    config.fprocess = get_string(env, "fprocess", "");
    if (config.fprocess.find_first_not_of(" \t\n") == std::string::npos)
        throw ConfigError("fprocess",
                          "not set: name the process to run for each request, e.g. fprocess=cat");
    config.argv = split_command(config.fprocess);
    if (config.argv.empty())
        throw ConfigError("fprocess",
                          "cannot split '" + config.fprocess + "' into words (unclosed quote?)");
    std::string resolved =
        resolve_on_path(config.argv[0], get_string(env, "PATH", "/usr/local/bin:/usr/bin:/bin"));
    if (resolved.empty())
        throw ConfigError("fprocess", "'" + config.argv[0] + "' is not an executable file on PATH");
    config.argv[0] = resolved;

    std::string mode = get_string(env, "mode", "serializing");
    if (mode == "serializing" || mode.empty())
        config.mode = Mode::kSerializing;
    else if (mode == "streaming")
        config.mode = Mode::kStreaming;
    else if (mode == "http")
        config.mode = Mode::kHttp;
    else
        throw ConfigError("mode", "'" + mode + "' is not one of serializing, streaming, http");

    config.bind_address = get_string(env, "bind_address", config.bind_address);
    if (config.bind_address.empty()) config.bind_address = "0.0.0.0";
    if (!is_ip_literal(config.bind_address))
        throw ConfigError("bind_address", "'" + config.bind_address +
                                              "' is not an IPv4 or IPv6 address (e.g. 0.0.0.0, "
                                              "127.0.0.1, ::)");
    config.port = get_port(env, "port", config.port);
    config.metrics_port = get_port(env, "metrics_port", config.metrics_port);
    if (config.port != 0 && config.port == config.metrics_port)
        throw ConfigError("metrics_port",
                          "must differ from port (" + std::to_string(config.port) + ")");
    config.upstream_url = get_string(env, "upstream_url", config.upstream_url);
    if (config.upstream_url.empty()) config.upstream_url = "http://127.0.0.1:8082";
    config.upstream = parse_upstream_url("upstream_url", config.upstream_url);

    config.read_timeout = get_duration(env, "read_timeout", config.read_timeout);
    config.write_timeout = get_duration(env, "write_timeout", config.write_timeout);
    config.exec_timeout = get_duration(env, "exec_timeout", config.exec_timeout);
    // As in the classic watchdog, the drain wait defaults to write_timeout.
    config.healthcheck_interval = get_duration(env, "healthcheck_interval", config.write_timeout);
    if (config.read_timeout.count() == 0)
        throw ConfigError("read_timeout", "must be greater than 0");
    if (config.write_timeout.count() == 0)
        throw ConfigError("write_timeout", "must be greater than 0");

    config.write_debug = get_bool(env, "write_debug", config.write_debug);
    config.content_type = get_string(env, "content_type", "");
    config.marshal_request = get_bool(env, "marshal_request", config.marshal_request);
    config.cgi_headers = get_bool(env, "cgi_headers", config.cgi_headers);
    config.combine_output = get_bool(env, "combine_output", config.combine_output);
    config.suppress_lock = get_bool(env, "suppress_lock", config.suppress_lock);
    config.max_inflight = static_cast<int>(get_int(env, "max_inflight", 0, 0, 1000000));
    config.max_request_bytes = get_byte_size(env, "max_request_bytes", config.max_request_bytes);
    config.max_response_bytes = get_byte_size(env, "max_response_bytes", config.max_response_bytes);
    if (config.max_response_bytes == 0)
        throw ConfigError("max_response_bytes", "must be greater than 0");
    // One call at the largest body and output must always fit.
    const std::uint64_t one_call = config.max_request_bytes + config.max_response_bytes;
    config.max_buffered_bytes =
        get_byte_size(env, "max_buffered_bytes", std::max(config.max_buffered_bytes, one_call));
    if (config.max_buffered_bytes < one_call)
        throw ConfigError("max_buffered_bytes",
                          "must be at least max_request_bytes + max_response_bytes (" +
                              std::to_string(one_call) + " bytes)");

    std::string tmpdir = get_string(env, "TMPDIR", "");
    if (tmpdir.empty()) tmpdir = "/tmp";
    while (tmpdir.size() > 1 && tmpdir.back() == '/') tmpdir.pop_back();
    config.lock_path = tmpdir + "/.lock";
    return config;
}

}  // namespace faas::watchdog
