// The environment a per-request fprocess sees: the watchdog's own, plus the request as CGI-style
// Http_* variables (classic watchdog names). Client headers can never replace the reserved
// names, reach a variable outside the Http_ prefix, or set a *_proxy variable (httpoxy).
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <vector>

namespace faas::watchdog {

/// What the child is told about the request besides its headers.
struct RequestFacts {
    std::string method;
    std::string path;   ///< Decoded path, as Go's r.URL.Path.
    std::string query;  ///< Raw query string, without '?'.
    std::string host;
    std::string content_length;  ///< Bytes in the body as sent, or "-1" when unknown.
    std::string transfer_encoding;
};

RequestFacts facts_of(const httplib::Request& req, std::optional<std::size_t> body_size);

/// Go's canonical header form: "x-forwarded-for" -> "X-Forwarded-For".
std::string canonical_header_name(const std::string& name);

/// `base` (KEY=VALUE strings of the watchdog's environment) with every inherited Http_* removed,
/// plus, when `cgi_headers`, the request's Http_* variables.
std::vector<std::string> build_child_env(const std::vector<std::string>& base,
                                         const httplib::Request& req, const RequestFacts& facts,
                                         bool cgi_headers);

/// The watchdog's own environment as KEY=VALUE strings (read once at start-up).
std::vector<std::string> process_environment();

/// The marshal_request body: {"header":{name:[values]},"body":{"raw":"<base64>"}}.
std::string marshal_request_body(const httplib::Request& req, const std::string& body);

}  // namespace faas::watchdog
