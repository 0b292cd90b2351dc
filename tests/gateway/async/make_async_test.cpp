// How the gateway sets up asynchronous calls from its settings, and the answer of every async
// route when the queue cannot be had (the integration tests cover the queue that works).
#include "async/make_async.h"

#include <doctest/doctest.h>

#include "../autoscale/fake_provider.h"

using namespace faas::gateway;
using faas::gateway::test::FakeProvider;

namespace {

std::string unavailable_reason(AsyncCalls& calls) {
    try {
        calls.list("", std::nullopt, 10);
    } catch (const Unavailable& e) {
        return e.what();
    }
    return "no Unavailable thrown";
}

}  // namespace

TEST_CASE("the local provider without nats-server: every async route says what is missing") {
    Config config;
    config.provider = ProviderKind::kLocal;
    config.queue_worker_path = "/usr/bin/queue-worker";
    FakeProvider provider;
    auto setup = make_async(config, provider);
    REQUIRE(setup.calls);
    CHECK_FALSE(setup.local);
    CHECK(setup.description.find("unavailable, nats-server is not installed") != std::string::npos);
    CHECK(unavailable_reason(*setup.calls).find("apt-get install nats-server") !=
          std::string::npos);
}

TEST_CASE("the local provider without the queue worker says where it looked") {
    Config config;
    config.provider = ProviderKind::kLocal;
    config.nats_server_path = "/usr/sbin/nats-server";
    FakeProvider provider;
    auto setup = make_async(config, provider);
    REQUIRE(setup.calls);
    CHECK(unavailable_reason(*setup.calls).find("queue-worker was not found") != std::string::npos);
}

TEST_CASE("the local provider with both programs starts them itself, on first use") {
    Config config;
    config.provider = ProviderKind::kLocal;
    config.nats_server_path = "/usr/sbin/nats-server";
    config.queue_worker_path = "/usr/bin/queue-worker";
    config.state_dir = "/tmp/faas-make-async-test";
    FakeProvider provider;
    auto setup = make_async(config, provider);
    REQUIRE(setup.calls);
    REQUIRE(setup.local);
    CHECK(setup.local->nats_url().rfind("nats://127.0.0.1:", 0) == 0);
    CHECK(setup.queue_metrics);  // Reading the local NATS once it is up.
    CHECK(setup.description.find("started here on the first asynchronous call") !=
          std::string::npos);
}

TEST_CASE("the Swarm without nats_url, and async_calls=false") {
    Config config;
    config.provider = ProviderKind::kSwarm;
    FakeProvider provider;
    auto swarm = make_async(config, provider);
    REQUIRE(swarm.calls);
    CHECK(unavailable_reason(*swarm.calls).find("set nats_url") != std::string::npos);
    CHECK_FALSE(swarm.queue_metrics);  // No queue, no queue gauges.

    config.async_calls = false;
    auto off = make_async(config, provider);
    CHECK_FALSE(off.calls);
    CHECK_FALSE(off.queue_metrics);
    CHECK(off.description == "Asynchronous calls: off (async_calls=false)");
}

TEST_CASE("with nats_url the queue's gauges are read from it, never blocking the set-up") {
    Config config;
    config.provider = ProviderKind::kSwarm;
    config.nats_url = "nats://127.0.0.1:1";  // Nobody there: readings fail, up 0.
    FakeProvider provider;
    auto setup = make_async(config, provider);
    REQUIRE(setup.calls);
    REQUIRE(setup.queue_metrics);
    CHECK(setup.description == "Asynchronous calls: queued on nats://127.0.0.1:1");
}
