// The HTTP text rules shared by the gateway and the watchdog.
#include "http_text.h"

#include <doctest/doctest.h>

using namespace faas;

TEST_CASE("has_token finds a list element without case or blanks") {
    CHECK(has_token("close", "close"));
    CHECK(has_token("keep-alive, Close", "close"));
    CHECK(has_token(" X-Foo ,\tUpgrade", "upgrade"));
    CHECK_FALSE(has_token("closed", "close"));
    CHECK_FALSE(has_token("", "close"));
}

TEST_CASE("the hop-by-hop set is RFC 9110's") {
    for (const char* name :
         {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer", "transfer-encoding",
          "Upgrade", "Proxy-Authenticate", "Proxy-Authorization"})
        CHECK(is_hop_by_hop(name));
    for (const char* name : {"Host", "Content-Length", "Content-Type", "X-Call-Id", "Expect"})
        CHECK_FALSE(is_hop_by_hop(name));
}

TEST_CASE("reason phrases, including the ones that used to read 'Status'") {
    CHECK(reason_phrase(414) == "URI Too Long");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(reason_phrase(505) == "HTTP Version Not Supported");
    CHECK(reason_phrase(599) == "Unknown");
}

TEST_CASE("tokens and field values") {
    CHECK(is_token("X-Call-Id"));
    CHECK_FALSE(is_token("X Call"));
    CHECK_FALSE(is_token(""));
    CHECK(is_field_value("a\tb"));
    CHECK_FALSE(is_field_value(std::string_view("a\0b", 3)));
    CHECK_FALSE(is_field_value("a\rb"));
}
