// The JetStream wrapper against a real nats-server on loopback: publish and de-duplication,
// pull consumers' acknowledgements and redeliveries, restarts, outages, and key-value buckets.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "jetstream.h"
#include "nats_server.h"
#include "support/process.h"
#include "support/wait.h"

using namespace faas::queue;
using faas::test::NatsServer;
using faas::test::TempDir;
using faas::test::wait_until;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::chrono::milliseconds kPublishTimeout = 2s;

/// A server with a work-queue stream CALLS on calls.>, and a connection to it.
struct Fixture {
    TempDir store;
    NatsServer server{store.path()};
    JetStream js = JetStream::connect(server.url(), 2s);

    Fixture() {
        StreamConfig config;
        config.name = "CALLS";
        config.subjects = {"calls.>"};
        config.retention = Retention::kWorkQueue;
        js.ensure_stream(config);
    }

    PullConsumer consumer(std::chrono::milliseconds ack_wait = 5s, JetStream* on = nullptr) {
        ConsumerConfig config;
        config.stream = "CALLS";
        config.durable = "worker";
        config.filter_subject = "calls.default";
        config.ack_wait = ack_wait;
        return (on ? *on : js).ensure_consumer(config);
    }
};

/// The next message, waiting at most `timeout` for it.
std::optional<Delivery> fetch_one(PullConsumer& consumer, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto batch = consumer.fetch(1, std::max(left, 1ms));
        if (!batch.empty()) return std::move(batch.front());
    }
    return std::nullopt;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("publish, fetch and ack: the message arrives once with its metadata and headers") {
    Fixture f;
    PubAck ack = f.js.publish("calls.default", "payload-1", "call-1", kPublishTimeout,
                              {{"X-Reason", "first try"}});
    CHECK(ack.stream == "CALLS");
    CHECK(ack.sequence == 1);
    CHECK_FALSE(ack.duplicate);

    PullConsumer consumer = f.consumer();
    auto batch = consumer.fetch(10, 2s);
    REQUIRE(batch.size() == 1);
    Delivery& d = batch.front();
    CHECK(d.data() == "payload-1");
    CHECK(d.subject() == "calls.default");
    CHECK(d.num_delivered() == 1);
    CHECK(d.stream_sequence() == 1);
    CHECK(d.header("X-Reason") == "first try");
    CHECK(d.header("Nats-Msg-Id") == "call-1");
    CHECK_FALSE(d.header("X-Absent"));
    const auto stored = std::chrono::system_clock::now() - d.stored_at();
    CHECK(stored < 1min);
    CHECK(stored > -1min);
    d.ack();

    CHECK(consumer.fetch(1, 300ms).empty());
    // A work queue drops what was acknowledged.
    CHECK(wait_until([&] { return f.js.stream_state("CALLS").messages == 0; }, 5s));
}

TEST_CASE("the same message id twice inside the window is stored once and flagged duplicate") {
    Fixture f;
    PubAck first = f.js.publish("calls.default", "body", "call-dup", kPublishTimeout);
    PubAck second = f.js.publish("calls.default", "body again", "call-dup", kPublishTimeout);
    CHECK_FALSE(first.duplicate);
    CHECK(second.duplicate);
    CHECK(second.sequence == first.sequence);
    CHECK(f.js.stream_state("CALLS").messages == 1);
    PubAck other = f.js.publish("calls.default", "body", "call-other", kPublishTimeout);
    CHECK_FALSE(other.duplicate);
    CHECK(f.js.stream_state("CALLS").messages == 2);

    PullConsumer consumer = f.consumer();
    auto batch = consumer.fetch(10, 2s);
    REQUIRE(batch.size() == 2);
    CHECK(batch[0].data() == "body");  // The first body, not the duplicate's.
    CHECK(batch[1].stream_sequence() == other.sequence);
}

TEST_CASE("nak with a delay: redelivered after the delay, with num_delivered 2") {
    Fixture f;
    f.js.publish("calls.default", "retry me", "call-nak", kPublishTimeout);
    PullConsumer consumer = f.consumer();
    auto first = fetch_one(consumer, 2s);
    REQUIRE(first);
    CHECK(first->num_delivered() == 1);
    const auto start = Clock::now();
    first->nak(1500ms);

    CHECK_FALSE(fetch_one(consumer, 700ms));  // Not before the delay.
    auto again = fetch_one(consumer, 5s);
    REQUIRE(again);
    CHECK(seconds_since(start) >= 1.3);
    CHECK(again->num_delivered() == 2);
    CHECK(again->data() == "retry me");
    again->ack();
}

TEST_CASE("in_progress keeps a message from redelivery past ack_wait") {
    Fixture f;
    f.js.publish("calls.default", "slow call", "call-slow", kPublishTimeout);
    PullConsumer consumer = f.consumer(1s);
    // Another worker on the same durable consumer, on its own connection.
    JetStream other_js = JetStream::connect(f.server.url(), 2s);
    PullConsumer other = f.consumer(1s, &other_js);

    auto d = fetch_one(consumer, 2s);
    REQUIRE(d);
    // Three ack waits long, telling the server every 300 ms that the call is still running.
    const auto until = Clock::now() + 3s;
    while (Clock::now() < until) {
        d->in_progress();
        CHECK(other.fetch(1, 300ms).empty());
    }
    // Once the progress reports stop, the message goes to the other worker after ack_wait.
    auto redelivered = fetch_one(other, 5s);
    REQUIRE(redelivered);
    CHECK(redelivered->num_delivered() == 2);
    redelivered->ack();
}

TEST_CASE("a message a dead worker never acknowledged is redelivered after ack_wait") {
    Fixture f;
    f.js.publish("calls.default", "orphan", "call-orphan", kPublishTimeout);
    Clock::time_point fetched;
    {
        JetStream dying = JetStream::connect(f.server.url(), 2s);
        PullConsumer consumer = f.consumer(1s, &dying);
        auto d = fetch_one(consumer, 2s);
        REQUIRE(d);
        fetched = Clock::now();
    }  // The worker and its connection are gone, without an ack.

    PullConsumer survivor = f.consumer(1s);
    auto d = fetch_one(survivor, 5s);
    REQUIRE(d);
    CHECK(seconds_since(fetched) >= 0.8);
    CHECK(d->num_delivered() == 2);
    CHECK(d->data() == "orphan");
    d->ack();
}

TEST_CASE("term: never delivered again") {
    Fixture f;
    f.js.publish("calls.default", "poison", "call-term", kPublishTimeout);
    PullConsumer consumer = f.consumer(1s);
    auto d = fetch_one(consumer, 2s);
    REQUIRE(d);
    d->term();
    CHECK_FALSE(fetch_one(consumer, 2s));  // Past ack_wait, and still nothing.
}

TEST_CASE("queued messages survive a restart of the server, and the connection comes back") {
    for (int signal : {SIGTERM, SIGKILL}) {
        CAPTURE(signal);
        Fixture f;
        PullConsumer consumer = f.consumer();
        for (int i = 0; i < 5; ++i)
            f.js.publish("calls.default", "queued-" + std::to_string(i),
                         "call-r" + std::to_string(i), kPublishTimeout);

        f.server.stop(signal);
        CHECK(wait_until([&] { return !f.js.connected(); }, 5s));
        f.server.start();
        REQUIRE(wait_until([&] { return f.js.connected(); }, 10s));

        CHECK(f.js.stream_state("CALLS").messages == 5);
        // The ids of messages still stored are remembered across the restart (the server
        // rebuilds its de-duplication table from them; an acknowledged and removed one is not).
        CHECK(f.js.publish("calls.default", "again", "call-r0", kPublishTimeout).duplicate);
        // The durable consumer survived too, and the old subscription fetches from it again.
        for (int i = 0; i < 5; ++i) {
            std::optional<Delivery> d;
            REQUIRE(wait_until(
                [&] {
                    try {
                        d = fetch_one(consumer, 500ms);
                    } catch (const QueueUnavailable&) {
                    }
                    return d.has_value();
                },
                10s));
            CHECK(d->data() == "queued-" + std::to_string(i));
            d->ack();
        }
        CHECK(consumer.fetch(1, 300ms).empty());
    }
}

TEST_CASE("with the server down, connect and publish fail promptly with QueueUnavailable") {
    SUBCASE("connect to a port nobody listens on") {
        const int port = faas::test::free_port();
        const auto start = Clock::now();
        try {
            JetStream::connect("nats://127.0.0.1:" + std::to_string(port), 1s);
            FAIL("connected to nothing");
        } catch (const QueueUnavailable& e) {
            MESSAGE(std::string(e.what()));
            CHECK(std::string(e.what()).find("nats: ") != std::string::npos);
        }
        CHECK(seconds_since(start) < 2.0);
    }
    SUBCASE("a server that went away after the connection was made") {
        Fixture f;
        f.js.publish("calls.default", "before", "call-before", kPublishTimeout);
        f.server.stop(SIGKILL);
        REQUIRE(wait_until([&] { return !f.js.connected(); }, 5s));
        const auto start = Clock::now();
        CHECK_THROWS_AS(f.js.publish("calls.default", "during", "call-during", kPublishTimeout),
                        QueueUnavailable);
        CHECK(seconds_since(start) < 0.5);
        CHECK_THROWS_AS(f.js.stream_state("CALLS"), QueueUnavailable);

        // What was refused is not sent later either: back up, the stream holds only "before".
        f.server.start();
        REQUIRE(wait_until([&] { return f.js.connected(); }, 10s));
        CHECK(f.js.stream_state("CALLS").messages == 1);
    }
    SUBCASE("a fetch while the server is down") {
        Fixture f;
        PullConsumer consumer = f.consumer();
        f.server.stop(SIGKILL);
        REQUIRE(wait_until([&] { return !f.js.connected(); }, 5s));
        CHECK_THROWS_AS(consumer.fetch(1, 200ms), QueueUnavailable);
    }
}

TEST_CASE("retry_in_background: no server yet, then it comes up and publishing works") {
    TempDir store;
    const int port = faas::test::free_port();
    ConnectOptions options;
    options.url = "nats://127.0.0.1:" + std::to_string(port);
    options.connect_timeout = 500ms;
    options.retry_in_background = true;
    JetStream js = JetStream::connect(options);
    CHECK_FALSE(js.connected());
    const auto start = Clock::now();
    CHECK_THROWS_AS(js.publish("calls.default", "x", "call-x", kPublishTimeout), QueueUnavailable);
    CHECK(seconds_since(start) < 0.5);

    NatsServer server(store.path(), port);
    REQUIRE(wait_until([&] { return js.connected(); }, 10s));
    js.ensure_stream({.name = "CALLS", .subjects = {"calls.>"}});
    CHECK(js.publish("calls.default", "x", "call-x", kPublishTimeout).sequence == 1);
}

TEST_CASE("publishing where no stream listens is QueueUnavailable (no responders)") {
    Fixture f;
    CHECK_THROWS_WITH_AS(f.js.publish("nowhere", "x", "call-n", 1s), doctest::Contains("nats: "),
                         QueueUnavailable);
}

TEST_CASE("a message over the server's max_payload is a QueueError, not QueueUnavailable") {
    Fixture f;
    const auto max_payload = f.js.max_payload();
    CHECK(max_payload == 1 << 20);  // nats-server's default.
    const std::string too_big(static_cast<std::size_t>(max_payload) + 1, 'x');
    try {
        f.js.publish("calls.default", too_big, "call-big", kPublishTimeout);
        FAIL("published past max_payload");
    } catch (const QueueUnavailable& e) {
        FAIL("QueueUnavailable: " << e.what());
    } catch (const QueueError& e) {
        CHECK(std::string(e.what()).find("nats: ") != std::string::npos);
    }
    CHECK(f.js.stream_state("CALLS").messages == 0);
    CHECK(f.js.connected());  // The connection is still good.
}

TEST_CASE("streams and consumers: ensure is idempotent and applies new settings") {
    Fixture f;
    StreamConfig config{
        .name = "CALLS", .subjects = {"calls.>"}, .retention = Retention::kWorkQueue};
    f.js.ensure_stream(config);
    config.max_age = 1h;
    config.duplicate_window = 10min;
    f.js.ensure_stream(config);  // An update.
    config.retention = Retention::kLimits;
    CHECK_THROWS_AS(f.js.ensure_stream(config), QueueError);  // The server refuses this one.
    CHECK_THROWS_AS(f.js.stream_state("NO_SUCH_STREAM"), QueueError);

    f.js.publish("calls.default", "x", "call-c", kPublishTimeout);
    PullConsumer first = f.consumer(5s);
    PullConsumer second = f.consumer(2s);  // Same durable, new ack_wait.
    auto d = fetch_one(second, 2s);
    REQUIRE(d);
    d->ack();
    CHECK_THROWS_AS(
        f.js.ensure_consumer({.stream = "CALLS", .durable = "bad", .filter_subject = ""}),
        QueueError);
}

TEST_CASE("delete_message removes a queued message once") {
    Fixture f;
    PubAck a = f.js.publish("calls.default", "cancel me", "call-a", kPublishTimeout);
    f.js.publish("calls.default", "keep me", "call-b", kPublishTimeout);
    CHECK(f.js.delete_message("CALLS", a.sequence));
    CHECK_FALSE(f.js.delete_message("CALLS", a.sequence));
    CHECK_FALSE(f.js.delete_message("CALLS", 999));
    PullConsumer consumer = f.consumer();
    auto batch = consumer.fetch(10, 1s);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].data() == "keep me");
}

TEST_CASE("stream_state reports depth and the oldest message's time") {
    Fixture f;
    CHECK_FALSE(f.js.stream_state("CALLS").first_time);
    f.js.publish("calls.default", "12345", "call-s1", kPublishTimeout);
    f.js.publish("calls.other", "67890", "call-s2", kPublishTimeout);
    StreamState state = f.js.stream_state("CALLS");
    CHECK(state.messages == 2);
    CHECK(state.first_sequence == 1);
    CHECK(state.last_sequence == 2);
    REQUIRE(state.first_time);
    CHECK(std::chrono::system_clock::now() - *state.first_time < 1min);
}

TEST_CASE("subject_counts: messages per subject matching a filter") {
    Fixture f;
    CHECK(f.js.subject_counts("CALLS", "calls.>").empty());
    f.js.publish("calls.default", "1", "call-c1", kPublishTimeout);
    f.js.publish("calls.default", "2", "call-c2", kPublishTimeout);
    f.js.publish("calls.other", "3", "call-c3", kPublishTimeout);
    auto counts = f.js.subject_counts("CALLS", "calls.>");
    CHECK(counts == std::map<std::string, std::uint64_t>{{"calls.default", 2}, {"calls.other", 1}});
    CHECK(f.js.subject_counts("CALLS", "calls.other") ==
          std::map<std::string, std::uint64_t>{{"calls.other", 1}});
    CHECK_THROWS_AS(f.js.subject_counts("NO-SUCH-STREAM", ">"), NoSuchStream);
}

TEST_CASE("consumers and consumer_state: pending, ack pending and the ack floor") {
    Fixture f;
    CHECK(f.js.consumers("CALLS").empty());
    CHECK_FALSE(f.js.consumer_state("CALLS", "worker"));
    for (int i = 1; i <= 3; ++i)
        f.js.publish("calls.default", "m", "call-p" + std::to_string(i), kPublishTimeout);
    PullConsumer consumer = f.consumer();

    auto all = f.js.consumers("CALLS");
    REQUIRE(all.size() == 1);
    CHECK(all[0].name == "worker");
    CHECK(all[0].filter_subject == "calls.default");
    CHECK(all[0].pending == 3);
    CHECK(all[0].ack_pending == 0);

    auto batch = consumer.fetch(2, 2s);
    REQUIRE(batch.size() == 2);
    batch[0].ack();
    batch[1].nak();  // Back to the consumer, to be delivered again (still unacknowledged).
    REQUIRE(wait_until(
        [&] {
            auto state = f.js.consumer_state("CALLS", "worker");
            return state && state->ack_floor_sequence == 1;
        },
        5s));
    auto state = f.js.consumer_state("CALLS", "worker");
    REQUIRE(state);
    // Message 2 waits for redelivery (ack pending), message 3 for its first delivery.
    CHECK(state->pending + state->ack_pending == 2);
    CHECK(f.js.consumers("CALLS").size() == 1);
    CHECK_THROWS_AS(f.js.consumers("NO-SUCH-STREAM"), NoSuchStream);
    CHECK_THROWS_AS(f.js.stream_state("NO-SUCH-STREAM"), NoSuchStream);
}

TEST_CASE("message and next_message read stored messages without taking them") {
    Fixture f;
    f.js.publish("calls.a", "a-1", "call-n1", kPublishTimeout);
    f.js.publish("calls.b", "b-1", "call-n2", kPublishTimeout);
    f.js.publish("calls.a", "a-2", "call-n3", kPublishTimeout);

    auto second = f.js.message("CALLS", 2);
    REQUIRE(second);
    CHECK(second->subject == "calls.b");
    CHECK(second->sequence == 2);
    CHECK(second->data == "b-1");
    CHECK(std::chrono::system_clock::now() - second->stored_at < 1min);
    CHECK_FALSE(f.js.message("CALLS", 99));

    auto first_a = f.js.next_message("CALLS", "calls.a");
    REQUIRE(first_a);
    CHECK(first_a->sequence == 1);
    CHECK(first_a->data == "a-1");
    auto next_a = f.js.next_message("CALLS", "calls.a", 2);
    REQUIRE(next_a);
    CHECK(next_a->sequence == 3);
    CHECK(next_a->data == "a-2");
    CHECK(next_a->stored_at >= first_a->stored_at);
    CHECK_FALSE(f.js.next_message("CALLS", "calls.a", 4));
    CHECK_FALSE(f.js.next_message("CALLS", "calls.none"));

    // Once the oldest is gone (taken from the work queue), the next one is the oldest.
    CHECK(f.js.delete_message("CALLS", 1));
    auto oldest_a = f.js.next_message("CALLS", "calls.a");
    REQUIRE(oldest_a);
    CHECK(oldest_a->sequence == 3);
    // Nothing was consumed by reading.
    CHECK(f.js.stream_state("CALLS").messages == 2);
    CHECK_THROWS_AS(f.js.next_message("NO-SUCH-STREAM", "calls.a"), NoSuchStream);
    CHECK_THROWS_AS(f.js.message("NO-SUCH-STREAM", 1), NoSuchStream);
}

TEST_CASE("the read-only looks fail promptly with QueueUnavailable while the server is down") {
    Fixture f;
    f.server.stop(SIGKILL);
    REQUIRE(wait_until([&] { return !f.js.connected(); }, 5s));
    const auto start = Clock::now();
    CHECK_THROWS_AS(f.js.subject_counts("CALLS", ">"), QueueUnavailable);
    CHECK_THROWS_AS(f.js.consumers("CALLS"), QueueUnavailable);
    CHECK_THROWS_AS(f.js.consumer_state("CALLS", "worker"), QueueUnavailable);
    CHECK_THROWS_AS(f.js.message("CALLS", 1), QueueUnavailable);
    CHECK_THROWS_AS(f.js.next_message("CALLS", "calls.a"), QueueUnavailable);
    CHECK(seconds_since(start) < 1.0);
}

TEST_CASE("a key-value bucket: put, get, erase, keys") {
    Fixture f;
    KeyValue kv = f.js.ensure_bucket("calls", 0ms);
    CHECK(kv.keys().empty());
    CHECK_FALSE(kv.get("missing"));
    CHECK(kv.put("call-1", "queued") > 0);
    kv.put("call-1", "running");
    CHECK(kv.get("call-1") == "running");
    const std::string binary("\0\xff{}", 4);
    kv.put("call-2", binary);
    CHECK(kv.get("call-2") == binary);
    kv.put("call-3", "");
    CHECK(kv.get("call-3") == "");
    kv.erase("call-3");
    CHECK_FALSE(kv.get("call-3"));
    kv.erase("never-set");  // Not an error.

    auto keys = kv.keys();
    CHECK(keys == std::vector<std::string>{"call-1", "call-2"});  // Oldest update first.
    for (int i = 0; i < 20; ++i) kv.put("bulk-" + std::to_string(i), "v");
    CHECK(kv.keys(5).size() == 5);
    CHECK(kv.keys().size() == 22);

    // Entries: keys with their latest values in one pass, bounded by count and by bytes.
    auto entries = kv.entries();
    REQUIRE(entries.size() == 22);
    CHECK(entries[0] == std::pair<std::string, std::string>{"call-1", "running"});
    CHECK(entries[1] == std::pair<std::string, std::string>{"call-2", binary});
    // A limit keeps the most recently updated, not the first ones (oldest update first).
    using Entries = std::vector<std::pair<std::string, std::string>>;
    CHECK(kv.entries(3) == Entries{{"bulk-17", "v"}, {"bulk-18", "v"}, {"bulk-19", "v"}});
    CHECK(kv.entries(100, 10).size() == 10);  // 10 values of 1 byte, newest first: then it stops

    CHECK(KeyValue::valid_key("a/b=c.d_e-f\\g"));
    CHECK_FALSE(KeyValue::valid_key("a b"));
    CHECK_FALSE(KeyValue::valid_key("a.*"));
    CHECK_FALSE(KeyValue::valid_key(".a"));
    CHECK_FALSE(KeyValue::valid_key("a..b"));
    CHECK_FALSE(KeyValue::valid_key(""));
    CHECK_THROWS_AS(kv.put("a b", "x"), QueueError);
    CHECK_THROWS_AS(kv.get(">"), QueueError);

    // The same bucket from a new handle (another process) sees the same values.
    KeyValue again = f.js.ensure_bucket("calls", 0ms);
    CHECK(again.get("call-1") == "running");

    // An update moves a key to the newest; a deleted key is left out and the next one taken.
    kv.put("call-1", "done");
    CHECK(kv.entries(2) == Entries{{"bulk-19", "v"}, {"call-1", "done"}});
    kv.put("call-2", "x");
    kv.erase("call-1");
    CHECK(kv.entries(2) == Entries{{"bulk-19", "v"}, {"call-2", "x"}});
    CHECK(kv.entries(3) == Entries{{"bulk-18", "v"}, {"bulk-19", "v"}, {"call-2", "x"}});
    CHECK(kv.entries().size() == 21);
    CHECK(kv.entries(100, 3) == Entries{{"bulk-18", "v"}, {"bulk-19", "v"}, {"call-2", "x"}});
}

TEST_CASE("key-value values expire after the bucket's TTL") {
    Fixture f;
    KeyValue kv = f.js.ensure_bucket("records", 1s);
    const auto start = Clock::now();
    kv.put("call-ttl", "record");
    CHECK(kv.get("call-ttl") == "record");
    REQUIRE(wait_until([&] { return !kv.get("call-ttl"); }, 10s));
    CHECK(seconds_since(start) >= 0.9);
    CHECK(kv.keys().empty());

    // A new TTL for an existing bucket is applied (and a value now lives long enough to read).
    KeyValue longer = f.js.ensure_bucket("records", 1h);
    longer.put("call-ttl", "record");
    CHECK(longer.get("call-ttl") == "record");
}

TEST_CASE("put_all stores a batch in one wait, and a bounded bucket keeps its newest values") {
    Fixture f;
    KeyValue kv = f.js.ensure_bucket("sync-records", 1h, 1, 100);
    std::vector<std::pair<std::string, std::string>> batch;
    for (int i = 0; i < 250; ++i)
        batch.emplace_back("call-" + std::to_string(i), "v" + std::to_string(i));
    batch.emplace_back("not a key", "skipped");
    CHECK(kv.put_all(batch, 5000ms) == 250);
    // Past 100 values the oldest went to make room: new values were never refused.
    CHECK_FALSE(kv.get("call-0"));
    CHECK_FALSE(kv.get("call-149"));
    CHECK(kv.get("call-150") == "v150");
    CHECK(kv.get("call-249") == "v249");
    CHECK(kv.keys().size() == 100);
    CHECK(kv.put_all({}, 1000ms) == 0);

    // The same bucket ensured again unbounded is unbounded.
    KeyValue unbounded = f.js.ensure_bucket("sync-records", 1h);
    CHECK(unbounded.put_all(batch, 5000ms) == 250);
    CHECK(unbounded.keys().size() == 250);

    // Not connected: nothing is sent, at once.
    f.server.stop(SIGKILL);
    REQUIRE(wait_until([&] { return !f.js.connected(); }, 5s));
    CHECK_THROWS_AS(kv.put_all(batch, 5000ms), QueueUnavailable);
}
