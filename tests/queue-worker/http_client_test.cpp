// The HTTP client against a real server on loopback: what it sends, what it reads back, and
// status 0 when there is no answer; and callbacks tried again with back-off.
#include "http_client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>

#include "callback.h"
#include "fake_http_server.h"
#include "support/process.h"
#include "support/wait.h"

using faas::test::FakeHttpServer;
using namespace faas::queue_worker;
using namespace std::chrono_literals;

TEST_CASE("a request goes out as given and the whole answer comes back") {
    FakeHttpServer server([](const httplib::Request&, httplib::Response& response, int) {
        response.status = 201;
        response.set_header("X-Answer", "yes");
        response.set_content("made", "text/x-made");
    });
    HttpClient client(1 << 20);
    const std::string body = "payload";
    HttpRequest request;
    request.method = "PATCH";
    request.url = server.url() + "/function/echo/a%2Fb?x=1&y=%20";
    request.headers = {{"X-One", "1"}, {"X-Empty", ""}};
    request.body = body;
    request.timeout = 5s;
    const HttpResponse answer = client.send(request);
    CHECK(answer.status == 201);
    CHECK(answer.error.empty());
    CHECK(answer.body == "made");
    CHECK(answer.duration_seconds >= 0);
    const auto has = [&](const std::string& name, const std::string& value) {
        for (const auto& [n, v] : answer.headers)
            if (n == name && v == value) return true;
        return false;
    };
    CHECK(has("X-Answer", "yes"));
    CHECK(has("Content-Type", "text/x-made"));

    REQUIRE(server.count() == 1);
    const auto seen = server.seen().front();
    CHECK(seen.method == "PATCH");
    CHECK(seen.target == "/function/echo/a%2Fb?x=1&y=%20");  // Not re-encoded nor decoded.
    CHECK(seen.body == "payload");
    CHECK(seen.header("X-One") == "1");
    // Nothing curl would add on its own.
    CHECK(seen.headers.count("Content-Type") == 0);
    CHECK(seen.headers.count("Accept") == 0);
    CHECK(seen.headers.count("Expect") == 0);
}

TEST_CASE("on the wire: an empty header value is sent, and no header curl would add itself") {
    // A bare socket, since httplib drops empty header values before a handler sees them.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    socklen_t length = sizeof address;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    std::string head;
    std::thread server([&] {
        const int connection = ::accept(listener, nullptr, nullptr);
        if (connection < 0) return;
        timeval bound{5, 0};
        ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
        char buffer[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            head.append(buffer, static_cast<std::size_t>(n));
        }
        // Read the body too: closing with unread bytes would reset the connection.
        const std::size_t body_start = head.find("\r\n\r\n") + 4;
        std::size_t received = head.size() - body_start;
        while (received < (2u << 20)) {
            const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            received += static_cast<std::size_t>(n);
        }
        const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        ::send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(connection);
    });
    HttpClient client(1 << 20);
    HttpRequest request;
    request.method = "POST";
    request.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x";
    request.headers = {{"X-Empty", ""}, {"X-Full", "v"}};
    const std::string body(2 << 20, 'b');  // Large enough that curl would send Expect.
    request.body = body;
    request.timeout = 5s;
    const HttpResponse answer = client.send(request);
    server.join();
    ::close(listener);
    CHECK(answer.status == 200);
    CHECK(head.find("\r\nX-Empty:\r\n") != std::string::npos);
    CHECK(head.find("\r\nX-Full: v\r\n") != std::string::npos);
    for (const char* unwanted :
         {"\r\nAccept:", "\r\nContent-Type:", "\r\nExpect:", "\r\nUser-Agent:"})
        CHECK_MESSAGE(head.find(unwanted) == std::string::npos, unwanted, " in ", head);
}

TEST_CASE("methods: GET and HEAD without a body, DELETE and POST with or without one") {
    FakeHttpServer server([](const httplib::Request& request, httplib::Response& response, int) {
        response.set_content(request.method + ":" + request.body, "text/plain");
    });
    HttpClient client(1 << 20);  // One client, reused: each request's method is set in full.
    for (const auto& [method, body] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "a"}, {"GET", ""}, {"DELETE", ""}, {"POST", ""}, {"DELETE", "d"}}) {
        HttpRequest request;
        request.method = method;
        request.url = server.url() + "/x";
        request.body = body;
        const HttpResponse answer = client.send(request);
        CHECK_MESSAGE(answer.body == method + ":" + body, method);
    }
    HttpRequest head;
    head.method = "HEAD";
    head.url = server.url() + "/x";
    CHECK(client.send(head).status == 200);
    CHECK(server.seen().back().method == "HEAD");
}

TEST_CASE("no answer is status 0 with the reason: refused, timed out") {
    HttpClient client(1 << 20);
    HttpRequest refused;
    refused.method = "GET";
    refused.url = "http://127.0.0.1:" + std::to_string(faas::test::free_port()) + "/";
    const HttpResponse none = client.send(refused);
    CHECK(none.status == 0);
    CHECK_FALSE(none.error.empty());

    FakeHttpServer slow([](const httplib::Request&, httplib::Response& response, int) {
        std::this_thread::sleep_for(1500ms);  // The function's own duration, not a wait.
        response.set_content("late", "text/plain");
    });
    HttpRequest request;
    request.method = "GET";
    request.url = slow.url() + "/";
    request.timeout = 300ms;
    const HttpResponse late = client.send(request);
    CHECK(late.status == 0);
    CHECK(late.error.find("imeout") != std::string::npos);
}

TEST_CASE("an answer over the limit keeps its status but not its body") {
    FakeHttpServer server([](const httplib::Request&, httplib::Response& response, int) {
        response.status = 200;
        response.set_content(std::string(100000, 'x'), "text/plain");
    });
    HttpClient client(1000);
    HttpRequest request;
    request.method = "GET";
    request.url = server.url() + "/";
    const HttpResponse answer = client.send(request);
    CHECK(answer.too_large);
    CHECK(answer.status == 200);
    CHECK(answer.body.empty());
    CHECK(answer.error.find("1000 bytes") != std::string::npos);
}

TEST_CASE("callbacks: 5xx tried again with back-off until delivered, 4xx given up at once") {
    faas::queue::RetryPolicy waits;
    waits.initial_wait = 100ms;
    waits.max_wait = 1s;
    StopFlag stop;
    FakeHttpServer flaky([](const httplib::Request&, httplib::Response& response, int n) {
        response.status = n <= 2 ? 503 : 204;
    });
    FakeHttpServer broken(
        [](const httplib::Request&, httplib::Response& response, int) { response.status = 500; });
    FakeHttpServer refusing(
        [](const httplib::Request&, httplib::Response& response, int) { response.status = 404; });
    // After the servers, so it goes first and closes its kept-alive connections to them.
    HttpClient client(1 << 20);

    HttpRequest request;
    request.method = "POST";
    request.url = flaky.url() + "/done";
    const CallbackResult delivered = deliver_callback(client, request, 5, waits, stop);
    CHECK(delivered.delivered);
    CHECK(delivered.attempts == 3);
    CHECK(delivered.status == 204);
    const auto seen = flaky.seen();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].at - seen[0].at >= 90ms);   // backoff(1) = 100 ms
    CHECK(seen[2].at - seen[1].at >= 190ms);  // backoff(2) = 200 ms

    request.url = broken.url() + "/done";
    const CallbackResult given_up = deliver_callback(client, request, 2, waits, stop);
    CHECK_FALSE(given_up.delivered);
    CHECK(given_up.attempts == 2);
    CHECK(given_up.status == 500);

    request.url = refusing.url() + "/done";
    const CallbackResult refused = deliver_callback(client, request, 5, waits, stop);
    CHECK_FALSE(refused.delivered);
    CHECK(refused.attempts == 1);
    CHECK(refusing.count() == 1);
}

TEST_CASE("a stop cuts a callback's back-off short") {
    faas::queue::RetryPolicy waits;
    waits.initial_wait = 30s;
    waits.max_wait = 30s;
    StopFlag stop;
    FakeHttpServer broken(
        [](const httplib::Request&, httplib::Response& response, int) { response.status = 502; });
    HttpClient client(1 << 20);
    HttpRequest request;
    request.method = "POST";
    request.url = broken.url() + "/done";
    std::thread stopper([&] {
        faas::test::wait_until([&] { return broken.count() > 0; }, 10s);
        stop.request_stop();
    });
    const auto start = std::chrono::steady_clock::now();
    const CallbackResult result = deliver_callback(client, request, 5, waits, stop);
    stopper.join();
    CHECK(result.interrupted);
    CHECK(result.attempts == 1);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
}
