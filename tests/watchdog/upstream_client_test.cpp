// The http-mode upstream client against a scripted raw TCP server.
#include "upstream_client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

using namespace faas::watchdog;
using namespace std::chrono_literals;

namespace {

// Accepts connections one at a time; for each request head read, answers with the next canned
// response. `close_after` closes the connection after answering (without saying so).
class ScriptedServer {
  public:
    ScriptedServer(std::vector<std::string> responses, bool close_after)
        : responses_(std::move(responses)), close_after_(close_after) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        ::listen(fd_, 8);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }
    int connections() const { return connections_; }

  private:
    void serve() {
        std::size_t next = 0;
        while (next < responses_.size()) {
            int conn = ::accept(fd_, nullptr, nullptr);
            if (conn < 0) return;
            ++connections_;
            std::string received;
            while (next < responses_.size()) {
                char buf[4096];
                ssize_t n = ::recv(conn, buf, sizeof buf, 0);
                if (n <= 0) break;
                received.append(buf, static_cast<std::size_t>(n));
                if (received.find("\r\n\r\n") == std::string::npos) continue;
                received.clear();
                const auto& response = responses_[next++];
                ::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
                if (close_after_) break;
            }
            ::close(conn);
        }
    }
    std::vector<std::string> responses_;
    bool close_after_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<int> connections_{0};
    std::thread thread_;
};

const std::string kHead = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

UpstreamError call(UpstreamConnection& c, UpstreamResponse& out) {
    return c.round_trip(kHead, "", false, std::chrono::steady_clock::now() + 2s, out);
}

}  // namespace

TEST_CASE("content-length responses are read and the connection reused") {
    ScriptedServer server({"HTTP/1.1 201 Created\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello",
                           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
                          false);
    UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
    UpstreamResponse out;
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.status == 201);
    CHECK(out.body == "hello");
    REQUIRE(out.headers.size() == 2);
    CHECK(out.headers[0] == std::make_pair(std::string("X-A"), std::string("1")));
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.status == 200);
    CHECK(out.body.empty());
    CHECK(server.connections() == 1);
}

TEST_CASE("chunked responses with trailers are decoded") {
    ScriptedServer server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"},
                          false);
    UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
    UpstreamResponse out;
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.body == "hello world");
}

TEST_CASE("a response without length runs until the upstream closes") {
    ScriptedServer server({"HTTP/1.1 200 OK\r\n\r\nall of it"}, true);
    UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
    UpstreamResponse out;
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.body == "all of it");
}

TEST_CASE("an idle connection closed by the upstream is replaced transparently") {
    ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"},
                          true);
    UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
    UpstreamResponse out;
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.body == "a");
    REQUIRE(call(c, out) == UpstreamError::kNone);
    CHECK(out.body == "b");
    CHECK(server.connections() == 2);
}

TEST_CASE("bounds and malformed answers are errors") {
    SUBCASE("body over the bound") {
        ScriptedServer server(
            {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x')}, false);
        UpstreamConnection c("127.0.0.1", server.port(), 10, 2000ms);
        UpstreamResponse out;
        CHECK(call(c, out) == UpstreamError::kTooLarge);
    }
    SUBCASE("not HTTP") {
        ScriptedServer server({"SSH-2.0-OpenSSH\r\n\r\n"}, false);
        UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
        UpstreamResponse out;
        CHECK(call(c, out) == UpstreamError::kBadResponse);
    }
    SUBCASE("unknown transfer coding") {
        ScriptedServer server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"}, false);
        UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 2000ms);
        UpstreamResponse out;
        CHECK(call(c, out) == UpstreamError::kBadResponse);
    }
    SUBCASE("nobody listening") {
        int port;
        {
            ScriptedServer gone({}, false);
            port = gone.port();
        }
        UpstreamConnection c("127.0.0.1", port, 1 << 20, 2000ms);
        UpstreamResponse out;
        CHECK(call(c, out) == UpstreamError::kConnect);
    }
    SUBCASE("no answer before the deadline") {
        ScriptedServer server({},
                              false);  // Accepts nothing: the connect completes via the backlog.
        UpstreamConnection c("127.0.0.1", server.port(), 1 << 20, 300ms);
        UpstreamResponse out;
        auto started = std::chrono::steady_clock::now();
        CHECK(c.round_trip(kHead, "", false, started + 300ms, out) == UpstreamError::kTimeout);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
    }
}
