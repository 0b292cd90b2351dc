// Early request validation.
#include "request_guard.h"

#include <strings.h>

#include "http_server.h"

namespace faas::watchdog {
namespace {

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 19) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

bool is_allowed_method(const std::string& method) {
    return method == "GET" || method == "POST" || method == "PUT" || method == "PATCH" ||
           method == "DELETE";
}

std::optional<Rejection> check_request(const httplib::Request& req, std::uint64_t max_request_bytes) {
    if (!is_allowed_method(req.method))
        return Rejection{405, "Method " + req.method + " is not allowed: use GET, POST, PUT, PATCH or DELETE.\n"};

    std::size_t count = 0;
    std::size_t bytes = 0;
    std::string content_length;
    std::size_t content_length_count = 0;
    std::size_t transfer_encoding_count = 0;
    std::string transfer_encoding;
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name)) continue;
        ++count;
        bytes += name.size() + value.size() + 4;
        if (!is_token(name))
            return Rejection{400, "Invalid header name.\n"};
        if (!is_field_value(value))
            return Rejection{400, "Invalid value in header " + name + ".\n"};
        if (strcasecmp(name.c_str(), "Content-Length") == 0) {
            if (content_length_count++ > 0 && value != content_length)
                return Rejection{400, "Conflicting Content-Length headers.\n"};
            content_length = value;
        } else if (strcasecmp(name.c_str(), "Transfer-Encoding") == 0) {
            ++transfer_encoding_count;
            transfer_encoding = value;
        }
    }
    if (count > kMaxHeaderCount || bytes > kMaxHeaderBytes)
        return Rejection{431, "Request header fields too large.\n"};
    if (transfer_encoding_count > 0) {
        // Only a single plain "chunked" is unambiguous; anything else could be read two ways
        // by two HTTP parsers, which is how requests are smuggled.
        if (transfer_encoding_count > 1 || strcasecmp(transfer_encoding.c_str(), "chunked") != 0)
            return Rejection{400, "Unsupported Transfer-Encoding.\n"};
        if (content_length_count > 0)
            return Rejection{400, "Content-Length and Transfer-Encoding together are not allowed.\n"};
        if (req.version == "HTTP/1.0")
            return Rejection{400, "Transfer-Encoding is not allowed with HTTP/1.0.\n"};
    }
    // cpp-httplib never reads a GET body, so one would be parsed as the next request.
    if (req.method == "GET" && (transfer_encoding_count > 0 ||
                                (content_length_count > 0 && content_length != "0")))
        return Rejection{400, "A GET request cannot carry a body: use POST.\n"};
    if (content_length_count > 0) {
        if (!all_digits(content_length)) return Rejection{400, "Invalid Content-Length.\n"};
        if (std::stoull(content_length) > max_request_bytes)
            return Rejection{413, "Request body is larger than max_request_bytes (" +
                                      std::to_string(max_request_bytes) + " bytes).\n"};
    }
    return std::nullopt;
}

}  // namespace faas::watchdog
