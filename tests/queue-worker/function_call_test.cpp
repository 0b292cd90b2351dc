// The request to the gateway that a queued call becomes.
#include "function_call.h"

#include <doctest/doctest.h>

using namespace faas::queue;
using namespace faas::queue_worker;
using namespace std::chrono_literals;

namespace {

CallMessage message() {
    CallMessage m;
    m.call_id = "abc-123";
    m.function = "resize.tenant-a";
    m.method = "PUT";
    m.path = "/images/a%20b";
    m.query = "w=10&h=20";
    m.body = "bytes";
    m.queue = "faas-request";
    m.headers = {{"Content-Type", "image/png"},
                 {"Connection", "keep-alive, X-Hop"},
                 {"X-Hop", "only for the first hop"},
                 {"Keep-Alive", "timeout=5"},
                 {"Transfer-Encoding", "chunked"},
                 {"Host", "gateway:8080"},
                 {"Content-Length", "5"},
                 {"Expect", "100-continue"},
                 {"X-Call-Id", "the client's"},
                 {"X-Custom", "one"},
                 {"x-custom", "two"},
                 {"X-Empty", ""}};
    return m;
}

}  // namespace

TEST_CASE("method, URL with path and query, body and timeout") {
    const CallMessage m = message();
    const HttpRequest request = function_request(m, "http://gw:8080", 7s);
    CHECK(request.method == "PUT");
    CHECK(request.url == "http://gw:8080/function/resize.tenant-a/images/a%20b?w=10&h=20");
    CHECK(request.body == "bytes");
    CHECK(request.body.data() == m.body.data());  // Viewed, not copied.
    CHECK(request.timeout == 7s);
}

TEST_CASE("no path and no query: /function/<name> without '?'") {
    CallMessage m = message();
    m.path.clear();
    m.query.clear();
    CHECK(function_request(m, "http://gw:8080", 1s).url ==
          "http://gw:8080/function/resize.tenant-a");
}

TEST_CASE("headers: the end-to-end ones in order, repeats kept, then the call id and the mark") {
    const HttpRequest request = function_request(message(), "http://gw:8080", 1s);
    const HeaderList expected = {{"Content-Type", "image/png"},
                                 {"X-Custom", "one"},
                                 {"x-custom", "two"},
                                 {"X-Empty", ""},
                                 {"X-Call-Id", "abc-123"},
                                 // The gateway records it as part of the asynchronous call.
                                 {"X-Faas-Queued-Call", "true"}};
    CHECK(request.headers == expected);
}
