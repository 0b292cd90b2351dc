// fwatchdog's settings, read from the environment with the OpenFaaS classic watchdog's names
// and defaults, plus the modes and bounds this watchdog adds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "env.h"

namespace faas::watchdog {

enum class Mode {
    kSerializing,  ///< Classic: buffer the body, fork fprocess, buffer its output.
    kStreaming,    ///< Fork per request; stdin and stdout streamed, memory stays flat.
    kHttp,         ///< fprocess starts once and serves HTTP at upstream_url; requests are proxied.
};

const char* to_string(Mode mode);

struct UpstreamAddress {
    std::string host;
    int port = 0;
    std::string base_path;  ///< Prefix put before each request's path ("" for none).
};

struct Config {
    std::string fprocess;           ///< As given, for logs.
    std::vector<std::string> argv;  ///< fprocess split into words; argv[0] resolved on PATH.
    Mode mode = Mode::kSerializing;
    std::string bind_address = "0.0.0.0";  ///< IPv4 or IPv6 literal both ports listen on.
    int port = 8080;
    int metrics_port = 8081;
    std::string upstream_url = "http://127.0.0.1:8082";
    UpstreamAddress upstream;
    std::chrono::nanoseconds read_timeout = std::chrono::seconds(30);
    std::chrono::nanoseconds write_timeout = std::chrono::seconds(30);
    std::chrono::nanoseconds exec_timeout{0};  ///< 0: no limit.
    std::chrono::nanoseconds healthcheck_interval = std::chrono::seconds(30);
    bool write_debug = false;
    std::string content_type;  ///< Forced response Content-Type; empty echoes the request's.
    bool marshal_request = false;
    bool cgi_headers = true;
    bool combine_output = true;
    bool suppress_lock = false;
    int max_inflight = 0;  ///< 0: no limit.
    std::uint64_t max_request_bytes = 16ULL << 20;
    std::uint64_t max_response_bytes = 16ULL << 20;
    /// Bound on all buffered bodies and outputs together; past it, new requests get 503.
    /// Defaults to 256Mi, or to max_request_bytes + max_response_bytes when that is larger.
    std::uint64_t max_buffered_bytes = 256ULL << 20;
    std::string lock_path = "/tmp/.lock";  ///< $TMPDIR/.lock, as Go's os.TempDir() gives.
};

/// Reads and validates every setting; throws faas::ConfigError naming the first bad variable.
Config read_config(const Env& env);

/// True for an IPv4 ("127.0.0.1") or IPv6 ("::1") address literal.
bool is_ip_literal(const std::string& text);

/// Splits fprocess into words on spaces. No shell is involved: there is no expansion of any
/// kind, but '...' and "..." group words so `sh -c 'exit 3'` means what it says.
std::vector<std::string> split_command(const std::string& command);

/// Parses "http://host:port[/path]"; throws faas::ConfigError for `variable` when it cannot.
UpstreamAddress parse_upstream_url(const std::string& variable, const std::string& url);

}  // namespace faas::watchdog
