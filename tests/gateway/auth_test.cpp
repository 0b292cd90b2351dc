// Basic authentication.
#include "auth.h"

#include <doctest/doctest.h>

#include <fstream>

#include "settings.h"
#include "support/process.h"

using namespace faas::gateway;

TEST_CASE("only the exact credentials are allowed") {
    BasicAuth auth("admin", "s3cret");
    CHECK(auth.allows("Basic YWRtaW46czNjcmV0"));  // admin:s3cret
    CHECK(auth.allows("basic YWRtaW46czNjcmV0"));
    CHECK_FALSE(auth.allows(""));
    CHECK_FALSE(auth.allows("Basic "));
    CHECK_FALSE(auth.allows("Bearer YWRtaW46czNjcmV0"));
    CHECK_FALSE(auth.allows("Basic YWRtaW46czNjcmV"));       // truncated
    CHECK_FALSE(auth.allows("Basic YWRtaW46czNjcmV0eA=="));  // admin:s3cretx
    CHECK_FALSE(auth.allows("Basic YWRtaW4="));              // no colon
    CHECK_FALSE(auth.allows("Basic OnMzY3JldA=="));          // :s3cret
}

TEST_CASE("constant-time comparison is still a comparison") {
    CHECK(constant_time_equals("abc", "abc"));
    CHECK_FALSE(constant_time_equals("abc", "abd"));
    CHECK_FALSE(constant_time_equals("abc", "abcd"));
    CHECK_FALSE(constant_time_equals("", "a"));
    CHECK(constant_time_equals("", ""));
}

TEST_CASE("credentials come from files in secret_mount_path") {
    faas::test::TempDir dir;
    CHECK_THROWS_AS(BasicAuth::from_files(dir.path()), faas::ConfigError);
    std::ofstream(dir.path() + "/basic-auth-user") << "admin\n";
    std::ofstream(dir.path() + "/basic-auth-password") << "s3cret\n";
    auto auth = BasicAuth::from_files(dir.path());
    CHECK(auth.user() == "admin");
    CHECK(auth.allows("Basic YWRtaW46czNjcmV0"));
}
