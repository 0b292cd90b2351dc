// Entry of the cpp template (classic watchdog, serializing mode): fwatchdog runs this program
// for each request with the body on stdin. It reads all of stdin, calls handle() and writes
// the answer to stdout. An exception: its message (when not empty) to stderr, exit status 1.
#include <cstdio>
#include <exception>
#include <string>

#include "handler.h"

namespace {

bool read_all(std::FILE* in, std::string& out) {
    char buffer[64 * 1024];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, in)) > 0) out.append(buffer, n);
    return !std::ferror(in);
}

bool write_all(std::FILE* out, const std::string& data) {
    return std::fwrite(data.data(), 1, data.size(), out) == data.size() && std::fflush(out) == 0;
}

}  // namespace

int main() {
    std::string request;
    if (!read_all(stdin, request)) {
        std::fputs("cannot read the request from stdin\n", stderr);
        return 1;
    }
    try {
        std::string response = handle(request);
        if (!write_all(stdout, response)) return 1;
    } catch (const std::exception& error) {
        if (*error.what() != '\0') std::fprintf(stderr, "%s\n", error.what());
        return 1;
    } catch (...) {
        return 1;
    }
    return 0;
}
