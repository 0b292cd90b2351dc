// Building the per-request child environment.
#include "cgi_env.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base64.h"
#include "http_server.h"

extern char** environ;

namespace faas::watchdog {
namespace {

const std::set<std::string> kReserved = {
    "Http_Method",
    "Http_Path",
    "Http_Query",
    "Http_Host",
    "Http_ContentLength",
    "Http_Content_Length",
    "Http_Transfer_Encoding",
};

bool starts_with_http_prefix(const std::string& entry) {
    return entry.size() >= 5 && (entry[0] == 'H' || entry[0] == 'h') &&
           (entry[1] == 'T' || entry[1] == 't') && (entry[2] == 'T' || entry[2] == 't') &&
           (entry[3] == 'P' || entry[3] == 'p') && entry[4] == '_';
}

// Environment variable names we create hold only letters, digits and '_'. The request guard
// already refuses other header names; this keeps the builder safe on its own (a header named
// "Proxy=" would otherwise make "Http_Proxy=...").
bool is_plain_header_name(const std::string& name) {
    if (name.empty()) return false;
    for (unsigned char c : name)
        if (!std::isalnum(c) && c != '-' && c != '_') return false;
    return true;
}

bool ends_with_proxy(const std::string& name) {
    if (name.size() < 6) return false;
    std::string tail = name.substr(name.size() - 6);
    std::transform(tail.begin(), tail.end(), tail.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return tail == "_proxy";
}

}  // namespace

std::string canonical_header_name(const std::string& name) {
    std::string out = name;
    bool upper = true;
    for (auto& c : out) {
        c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                    : std::tolower(static_cast<unsigned char>(c)));
        upper = c == '-';
    }
    return out;
}

RequestFacts facts_of(const httplib::Request& req, std::optional<std::size_t> body_size) {
    RequestFacts facts;
    facts.method = req.method;
    facts.path = req.path;
    auto question = req.target.find('?');
    if (question != std::string::npos) facts.query = req.target.substr(question + 1);
    facts.host = req.get_header_value("Host");
    if (body_size)
        facts.content_length = std::to_string(*body_size);
    else if (req.has_header("Content-Length"))
        facts.content_length = req.get_header_value("Content-Length");
    else
        facts.content_length = "-1";
    facts.transfer_encoding = req.get_header_value("Transfer-Encoding");
    return facts;
}

std::vector<std::string> build_child_env(const std::vector<std::string>& base,
                                         const httplib::Request& req, const RequestFacts& facts,
                                         bool cgi_headers) {
    std::vector<std::string> env;
    env.reserve(base.size() + req.headers.size() + kReserved.size());
    // Nothing named Http_* may come from the watchdog's own environment: only from this request.
    for (const auto& entry : base)
        if (!starts_with_http_prefix(entry)) env.push_back(entry);
    if (!cgi_headers) return env;

    std::set<std::string> seen;
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name) || !is_plain_header_name(name)) continue;
        std::string variable = "Http_" + canonical_header_name(name);
        std::replace(variable.begin(), variable.end(), '-', '_');
        if (kReserved.count(variable) || ends_with_proxy(variable)) continue;
        if (!seen.insert(variable).second) continue;  // First value only, as the classic watchdog.
        env.push_back(variable + "=" + value);
    }
    env.push_back("Http_Method=" + facts.method);
    env.push_back("Http_Path=" + facts.path);
    env.push_back("Http_Query=" + facts.query);
    env.push_back("Http_Host=" + facts.host);
    env.push_back("Http_ContentLength=" + facts.content_length);
    env.push_back("Http_Content_Length=" + facts.content_length);
    env.push_back("Http_Transfer_Encoding=" + facts.transfer_encoding);
    return env;
}

std::vector<std::string> process_environment() {
    std::vector<std::string> env;
    for (char** entry = environ; entry && *entry; ++entry) env.emplace_back(*entry);
    return env;
}

std::string marshal_request_body(const httplib::Request& req, const std::string& body) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name)) continue;
        headers[canonical_header_name(name)].push_back(value);
    }
    nlohmann::json message = {{"header", headers}, {"body", {{"raw", base64_encode(body)}}}};
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace faas::watchdog
