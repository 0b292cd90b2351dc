// The queue worker's settings: defaults, values, and one clear error naming each bad one.
#include "config.h"

#include <doctest/doctest.h>

#include "queue_names.h"
#include "settings.h"

using faas::ConfigError;
using faas::MapEnv;
using faas::queue_worker::Config;
using faas::queue_worker::describe;
using faas::queue_worker::read_config;
using namespace std::chrono_literals;

namespace {

using Settings = std::map<std::string, std::string>;

/// The variable a bad `value` of `name` is blamed on ("" when it is accepted).
std::string blamed(const std::string& name, const std::string& value) {
    try {
        read_config(MapEnv(Settings{{name, value}}));
    } catch (const ConfigError& e) {
        return e.variable();
    }
    return "";
}

}  // namespace

TEST_CASE("defaults") {
    const Config config = read_config(MapEnv());
    CHECK(config.nats_url == "nats://127.0.0.1:4222");
    CHECK(config.gateway_url == "http://127.0.0.1:8080");
    CHECK(config.queue == faas::queue::kDefaultQueue);
    CHECK(config.max_inflight == 8);
    CHECK(config.ack_wait == 30s);
    CHECK(config.upstream_timeout == 5min);
    CHECK(config.retry.max_attempts == faas::queue::RetryPolicy().max_attempts);
    CHECK(config.retry.retry_statuses == std::set<int>{429, 502, 503, 504});
    CHECK(config.max_callback_attempts == 5);
    CHECK(config.call_record_ttl == 24h);
    CHECK(config.max_async_bytes == 1ULL << 20);
    CHECK(config.max_response_bytes == 64ULL << 20);
    CHECK(config.metrics_port == 8081);
}

TEST_CASE("values are read, and blank ones keep the default") {
    const Config config =
        read_config(MapEnv(Settings{{"nats_url", "nats://10.0.0.1:4222,nats://10.0.0.2:4222"},
                                    {"gateway_url", "http://gateway:8080/"},
                                    {"queue", "slow_jobs-1"},
                                    {"max_inflight", "32"},
                                    {"ack_wait", "10s"},
                                    {"upstream_timeout", "90"},
                                    {"max_retry_attempts", "4"},
                                    {"initial_retry_wait", "250ms"},
                                    {"max_retry_wait", "2s"},
                                    {"retry_http_codes", "500, 503"},
                                    {"max_callback_attempts", "2"},
                                    {"call_record_ttl", "1h"},
                                    {"max_async_bytes", "4Mi"},
                                    {"max_response_bytes", ""},
                                    {"metrics_port", "9102"}}));
    CHECK(config.nats_url == "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
    CHECK(config.gateway_url == "http://gateway:8080");  // No trailing '/': paths follow it.
    CHECK(config.queue == "slow_jobs-1");
    CHECK(config.max_inflight == 32);
    CHECK(config.ack_wait == 10s);
    CHECK(config.upstream_timeout == 90s);
    CHECK(config.retry.max_attempts == 4);
    CHECK(config.retry.initial_wait == 250ms);
    CHECK(config.retry.max_wait == 2s);
    CHECK(config.retry.retry_statuses == std::set<int>{500, 503});
    CHECK(config.max_callback_attempts == 2);
    CHECK(config.call_record_ttl == 1h);
    CHECK(config.max_async_bytes == 4ULL << 20);
    CHECK(config.max_response_bytes == 64ULL << 20);
    CHECK(config.metrics_port == 9102);
    CHECK(read_config(MapEnv(Settings{{"metrics_port", "0"}})).metrics_port == 0);  // Off.
    CHECK(read_config(MapEnv(Settings{{"queue", ""}})).queue == faas::queue::kDefaultQueue);
}

TEST_CASE("a bad value is blamed on its variable") {
    const std::string long_queue(65, 'q');
    const struct {
        const char* name;
        const char* value;
    } bad[] = {
        {"nats_url", " , "},
        {"gateway_url", "gateway:8080"},
        {"gateway_url", "ftp://gateway"},
        {"gateway_url", "http://"},
        {"gateway_url", "http://gateway:8080/?x"},
        {"queue", "with.dot"},
        {"queue", "a b"},
        {"queue", long_queue.c_str()},
        {"max_inflight", "0"},
        {"max_inflight", "1001"},
        {"max_inflight", "many"},
        {"ack_wait", "500ms"},
        {"ack_wait", "13h"},
        {"ack_wait", "soon"},
        {"upstream_timeout", "0"},
        {"upstream_timeout", "-1s"},
        {"max_retry_attempts", "0"},
        {"initial_retry_wait", "0s"},
        {"max_retry_wait", "2h"},
        {"retry_http_codes", "503,abc"},
        {"max_callback_attempts", "0"},
        {"max_callback_attempts", "101"},
        {"call_record_ttl", "0"},
        {"max_async_bytes", "0"},
        {"max_async_bytes", "65Mi"},
        {"max_async_bytes", "lots"},
        {"max_response_bytes", "0"},
        {"metrics_port", "-1"},
        {"metrics_port", "65536"},
        {"metrics_port", "http"},
    };
    for (const auto& row : bad)
        CHECK_MESSAGE(blamed(row.name, row.value) == row.name, row.name, "=", row.value);
    // The limits themselves are accepted.
    CHECK(blamed("max_inflight", "1000").empty());
    CHECK(blamed("ack_wait", "1s").empty());
    CHECK(blamed("max_async_bytes", "64Mi").empty());
}

TEST_CASE("the start-up line shows every setting but no password") {
    const std::string line =
        describe(read_config(MapEnv(Settings{{"nats_url", "nats://worker:s3cret@nats:4222"},
                                             {"gateway_url", "http://admin:pw@gateway:8080"}})));
    for (const char* name :
         {"queue=faas-request", "nats_url=nats://***@nats:4222",
          "gateway_url=http://***@gateway:8080", "max_inflight=8", "ack_wait=30s",
          "upstream_timeout=300s", "max_retry_attempts=", "initial_retry_wait=", "max_retry_wait=",
          "retry_http_codes=429,502,503,504", "max_callback_attempts=5", "call_record_ttl=86400s",
          "max_async_bytes=1048576", "max_response_bytes=", "metrics_port=8081"})
        CHECK_MESSAGE(line.find(name) != std::string::npos, name, " in ", line);
    CHECK(line.find("s3cret") == std::string::npos);
    CHECK(line.find("pw@") == std::string::npos);
}
