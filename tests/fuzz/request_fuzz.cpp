// Fuzz target: a request's method, target and headers, as untrusted bytes, through the request
// guard, the CGI environment builder and the marshal_request encoder.
#include <httplib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cgi_env.h"
#include "http_text.h"
#include "request_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    httplib::Request req;
    std::size_t line_end = text.find('\n');
    std::string first = text.substr(0, line_end);
    std::size_t space = first.find(' ');
    req.method = first.substr(0, space);
    req.target = space == std::string::npos ? "/" : first.substr(space + 1);
    req.path = req.target.substr(0, req.target.find('?'));
    req.version = "HTTP/1.1";
    std::size_t at = line_end == std::string::npos ? text.size() : line_end + 1;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        std::size_t colon = line.find(':');
        if (colon != std::string::npos)
            req.headers.emplace(line.substr(0, colon), line.substr(colon + 1));
        at = end + 1;
    }
    auto rejection = faas::watchdog::check_request(req, 1024);
    if (rejection && (rejection->status < 400 || rejection->message.empty())) __builtin_trap();
    if (rejection && rejection->body_readable) {
        // A body drained after an early answer must have one unambiguous framing: never both
        // lengths, never a coding other than plain chunked, never a malformed length.
        const auto lengths = req.get_header_value_count("Content-Length");
        const auto codings = req.get_header_value_count("Transfer-Encoding");
        if (lengths > 0 && codings > 0) __builtin_trap();
        if (codings > 1 ||
            (codings == 1 && !faas::iequals(req.get_header_value("Transfer-Encoding"), "chunked")))
            __builtin_trap();
        for (std::size_t i = 0; i < lengths; ++i) {
            const auto value = req.get_header_value("Content-Length", i);
            if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
                __builtin_trap();
        }
    }
    auto facts = faas::watchdog::facts_of(req, text.size());
    auto env = faas::watchdog::build_child_env({"PATH=/bin"}, req, facts, true);
    for (const auto& entry : env) {
        // Invariants: every added variable is Http_-prefixed and never a proxy setting.
        if (entry.rfind("PATH=", 0) != 0 && entry.rfind("Http_", 0) != 0) __builtin_trap();
        std::string name = entry.substr(0, entry.find('='));
        if (name.size() >= 6) {
            std::string tail = name.substr(name.size() - 6);
            for (auto& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (tail == "_proxy") __builtin_trap();
        }
    }
    faas::watchdog::marshal_request_body(req, text);
    faas::watchdog::canonical_header_name(first);
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "POST /fn?a=1\nHost: x\nContent-Type: text/plain\nContent-Length: 5",
        "GET /\nProxy: http://evil\nMethod: DELETE\nX-Forwarded-For: 1.2.3.4",
        "POST /\nTransfer-Encoding: chunked\nContent-Length: 3",
        "POST /\nTransfer-Encoding:chunked\nX-Bad\x01: 1",
        "PATCH /\nContent-Length:5\nContent-Length:5\nBad Name: x",
        "PUT /x\nBad=Name: 1\nX-A: a\x01b",
        std::string("DELETE /\nX-Nul: a\0b\nContent-Length: 99999999999999999999", 57),
    };
}
