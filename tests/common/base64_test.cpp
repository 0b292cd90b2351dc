// Base64, both alphabets, both directions.
#include "base64.h"

#include <doctest/doctest.h>

using faas::base64_decode;
using faas::base64_encode;

TEST_CASE("base64 encodes with padding, standard and URL-safe") {
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK(base64_encode("a") == "YQ==");
    CHECK(base64_encode("ab") == "YWI=");
    CHECK(base64_encode("\xfb\xff") == "+/8=");
    CHECK(base64_encode("\xfb\xff", true) == "-_8=");
    CHECK(base64_encode("") == "");
}

TEST_CASE("base64 decodes with or without padding and refuses other characters") {
    CHECK(base64_decode("dXNlcjpwYXNz") == "user:pass");
    CHECK(base64_decode("YQ") == "a");
    CHECK(base64_decode("YQ==") == "a");
    CHECK_FALSE(base64_decode("!!!!"));
    CHECK_FALSE(base64_decode("Y"));
    for (const std::string& text : {std::string(), std::string("x"), std::string("hello world"),
                                    std::string("\0\1\2\xff", 4)})
        CHECK(base64_decode(base64_encode(text)) == text);
}
