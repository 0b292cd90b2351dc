// Raw socket HTTP helpers for tests.
#include "support/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace faas::test {

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

bool ChunkedReader::read_response(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buffer;
    bool eof = false;
    // Ensures `buffer` holds at least `want` bytes (or a line when want == 0).
    auto fill = [&](std::size_t want, bool line) {
        while (!eof) {
            if (line ? buffer.find("\r\n") != std::string::npos : buffer.size() >= want)
                return true;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char chunk[65536];
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                eof = true;
            else
                buffer.append(chunk, static_cast<std::size_t>(n));
        }
        return line ? buffer.find("\r\n") != std::string::npos : buffer.size() >= want;
    };
    auto take_line = [&]() {
        auto end = buffer.find("\r\n");
        std::string line = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        return line;
    };
    if (!fill(0, true)) return false;
    std::string status_line = take_line();
    if (status_line.size() < 12) return false;
    status = std::atoi(status_line.c_str() + 9);
    long long content_length = -1;
    while (true) {
        if (!fill(0, true)) return false;
        std::string header = take_line();
        if (header.empty()) break;
        auto colon = header.find(':');
        std::string name = header.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : header.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (strcasecmp(name.c_str(), "Transfer-Encoding") == 0 &&
            strcasecmp(value.c_str(), "chunked") == 0)
            chunked = true;
        if (strcasecmp(name.c_str(), "Content-Length") == 0)
            content_length = std::atoll(value.c_str());
    }
    auto deliver = [&](std::size_t n) {
        if (on_data) on_data(buffer.data(), n);
        buffer.erase(0, n);
    };
    if (!chunked) {
        long long left = content_length;
        while (left > 0) {
            if (buffer.empty() && !fill(1, false)) return false;
            auto n = std::min<std::size_t>(buffer.size(), static_cast<std::size_t>(left));
            deliver(n);
            left -= static_cast<long long>(n);
        }
        return content_length >= 0;
    }
    while (true) {
        if (!fill(0, true)) return false;
        std::size_t size = std::strtoull(take_line().c_str(), nullptr, 16);
        if (size == 0) return fill(0, true);  // Last chunk, then the empty trailer line.
        while (size > 0) {
            if (buffer.empty() && !fill(1, false)) return false;
            auto n = std::min(buffer.size(), size);
            deliver(n);
            size -= n;
        }
        if (!fill(2, false)) return false;
        buffer.erase(0, 2);
    }
}

}  // namespace faas::test
