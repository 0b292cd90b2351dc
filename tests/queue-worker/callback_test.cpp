// The callback request: the function's answer and the four headers the receiver reads.
#include "callback.h"

#include <doctest/doctest.h>

using namespace faas::queue;
using namespace faas::queue_worker;

TEST_CASE("the function's body and headers, less hop-by-hop ones, plus the four call headers") {
    CallMessage m;
    m.call_id = "abc-123";
    m.function = "echo";
    m.callback_url = "http://127.0.0.1:9000/done?x=1";
    const std::string body = "answer";
    const HeaderList answer_headers = {{"Content-Type", "application/json"},
                                       {"Content-Length", "6"},
                                       {"Connection", "close"},
                                       {"X-Call-Id", "from the gateway"},
                                       {"X-Duration-Seconds", "0.1"},
                                       {"X-Start-Time", "1"},
                                       {"X-Result", "kept"}};
    const HttpRequest request = callback_request(m, 201, answer_headers, body, 1.25);
    CHECK(request.method == "POST");
    CHECK(request.url == "http://127.0.0.1:9000/done?x=1");
    CHECK(request.body == "answer");
    CHECK(request.timeout == kCallbackTimeout);
    const HeaderList expected = {{"Content-Type", "application/json"},
                                 {"X-Start-Time", "1"},
                                 {"X-Result", "kept"},
                                 {"X-Call-Id", "abc-123"},
                                 {"X-Function-Status", "201"},
                                 {"X-Function-Name", "echo"},
                                 {"X-Duration-Seconds", "1.250000"}};
    CHECK(request.headers == expected);
}

TEST_CASE("a callback is tried again on no answer or 5xx, never on 2xx-4xx") {
    CHECK(callback_should_retry(0));
    CHECK(callback_should_retry(500));
    CHECK(callback_should_retry(503));
    CHECK_FALSE(callback_should_retry(200));
    CHECK_FALSE(callback_should_retry(302));
    CHECK_FALSE(callback_should_retry(404));
    CHECK_FALSE(callback_should_retry(429));
}
