// Early request validation.
#include "request_guard.h"

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

std::optional<Rejection> check_request(const httplib::Request& req,
                                       std::uint64_t max_request_bytes) {
    if (!is_allowed_method(req.method))
        return Rejection{405, "Method " + req.method +
                                  " is not allowed: use GET, POST, PUT, PATCH or DELETE.\n"};

    std::size_t count = 0;
    std::size_t bytes = 0;
    std::string content_length;
    std::size_t content_length_count = 0;
    bool conflicting_lengths = false;
    std::size_t transfer_encoding_count = 0;
    std::string transfer_encoding;
    std::optional<Rejection> bad_header;
    for (const auto& [name, value] : req.headers) {
        if (is_synthetic_header(name)) continue;
        ++count;
        bytes += name.size() + value.size() + 4;
        if (!bad_header && !is_token(name)) bad_header = Rejection{400, "Invalid header name.\n"};
        if (!bad_header && !is_field_value(value))
            bad_header = Rejection{400, "Invalid value in header " + name + ".\n"};
        if (iequals(name, "Content-Length")) {
            if (content_length_count++ > 0 && value != content_length) conflicting_lengths = true;
            content_length = value;
        } else if (iequals(name, "Transfer-Encoding")) {
            ++transfer_encoding_count;
            transfer_encoding = value;
        }
    }

    // Framing first, though reported after header syntax: it decides whether the body of any
    // refused request may still be read.
    std::optional<Rejection> bad_framing;
    if (conflicting_lengths) {
        bad_framing = Rejection{400, "Conflicting Content-Length headers.\n"};
    } else if (transfer_encoding_count > 0) {
        // Only a single plain "chunked" is unambiguous; anything else could be read two ways
        // by two HTTP parsers, which is how requests are smuggled.
        if (transfer_encoding_count > 1 || !iequals(transfer_encoding, "chunked"))
            bad_framing = Rejection{400, "Unsupported Transfer-Encoding.\n"};
        else if (content_length_count > 0)
            bad_framing =
                Rejection{400, "Content-Length and Transfer-Encoding together are not allowed.\n"};
        else if (req.version == "HTTP/1.0")
            bad_framing = Rejection{400, "Transfer-Encoding is not allowed with HTTP/1.0.\n"};
    } else if (content_length_count > 0 && !all_digits(content_length)) {
        bad_framing = Rejection{400, "Invalid Content-Length.\n"};
    }
    // cpp-httplib never reads a GET body, so one would be parsed as the next request.
    if (!bad_framing && req.method == "GET" &&
        (transfer_encoding_count > 0 || (content_length_count > 0 && content_length != "0")))
        bad_framing = Rejection{400, "A GET request cannot carry a body: use POST.\n"};
    const bool readable = !bad_framing;

    if (bad_header) {
        bad_header->body_readable = readable;
        return bad_header;
    }
    if (count > kMaxHeaderCount || bytes > kMaxHeaderBytes)
        return Rejection{431, "Request header fields too large.\n", readable};
    if (bad_framing) return bad_framing;
    if (content_length_count > 0 && std::stoull(content_length) > max_request_bytes)
        return Rejection{413,
                         "Request body is larger than max_request_bytes (" +
                             std::to_string(max_request_bytes) + " bytes).\n",
                         true};
    return std::nullopt;
}

}  // namespace faas::watchdog
