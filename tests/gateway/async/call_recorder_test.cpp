// The recorder of synchronous calls with a store the test controls: batches in order, a
// bounded queue that drops (and counts) rather than block a call, failures counted by reason,
// and what is waiting stored when it stops.
#include "async/call_recorder.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jetstream.h"
#include "support/wait.h"

using namespace faas::gateway;
using namespace std::chrono_literals;
using faas::queue::CallRecord;

namespace {

CallRecord numbered(int n) {
    return sync_call_record("call-" + std::to_string(n), "echo", 200,
                            std::chrono::system_clock::now(), 0.001);
}

/// Keeps every batch it is given; can be made to hold the recorder's thread.
struct FakeStore {
    std::mutex mutex;
    std::condition_variable released;
    bool holding = false;
    std::vector<std::vector<std::string>> batches;

    CallRecorder::Store store() {
        return [this](const std::vector<CallRecord>& records) {
            std::unique_lock lock(mutex);
            released.wait(lock, [&] { return !holding; });
            std::vector<std::string> ids;
            for (const auto& record : records) ids.push_back(record.call_id);
            batches.push_back(std::move(ids));
            return records.size();
        };
    }
    void hold() {
        std::lock_guard lock(mutex);
        holding = true;
    }
    void release() {
        {
            std::lock_guard lock(mutex);
            holding = false;
        }
        released.notify_all();
    }
    std::vector<std::string> all() {
        std::lock_guard lock(mutex);
        std::vector<std::string> ids;
        for (const auto& batch : batches) ids.insert(ids.end(), batch.begin(), batch.end());
        return ids;
    }
};

}  // namespace

TEST_CASE("records reach the store in batches, in the order they were handed over") {
    FakeStore fake;
    CallRecorder recorder(fake.store(), CallRecorderOptions{1000, 10, 20ms});
    for (int i = 0; i < 35; ++i) recorder.record(numbered(i));
    REQUIRE(faas::test::wait_until([&] { return recorder.stored() == 35; }, 5s));
    auto ids = fake.all();
    REQUIRE(ids.size() == 35);
    for (int i = 0; i < 35; ++i)
        CHECK(ids[static_cast<std::size_t>(i)] == "call-" + std::to_string(i));
    std::lock_guard lock(fake.mutex);
    for (const auto& batch : fake.batches) CHECK(batch.size() <= 10);
    CHECK(recorder.dropped() == 0);
}

TEST_CASE("a store that falls behind makes records drop, counted, never a caller wait") {
    FakeStore fake;
    fake.hold();
    CallRecorder recorder(fake.store(), CallRecorderOptions{50, 10, 5ms});
    recorder.record(numbered(0));
    // The thread takes the first record and is held in the store: the queue fills behind it.
    std::this_thread::sleep_for(50ms);
    // The store stays held until these 500 are handed over: a record() that waited for it
    // would never return.
    for (int i = 1; i <= 500; ++i) recorder.record(numbered(i));
    CHECK(recorder.dropped() >= 450);
    fake.release();
    REQUIRE(
        faas::test::wait_until([&] { return recorder.stored() + recorder.dropped() == 501; }, 5s));
    CHECK(recorder.stored() <= 51);
    bool found_full = false;
    for (const auto& family : recorder.registry()->Collect())
        if (family.name == "gateway_call_records_dropped_total")
            for (const auto& metric : family.metric)
                if (metric.label.at(0).value == "full") found_full = metric.counter.value >= 450;
    CHECK(found_full);
}

TEST_CASE("a store that cannot reach NATS or stores part of a batch counts the rest dropped") {
    std::atomic<int> mode{0};
    CallRecorder recorder(
        [&](const std::vector<CallRecord>& records) -> std::size_t {
            if (mode == 0) throw faas::queue::QueueUnavailable("nats: not connected");
            return records.size() / 2;
        },
        CallRecorderOptions{1000, 4, 5ms});
    for (int i = 0; i < 4; ++i) recorder.record(numbered(i));
    REQUIRE(faas::test::wait_until([&] { return recorder.dropped() == 4; }, 5s));
    CHECK(recorder.stored() == 0);
    mode = 1;
    for (int i = 0; i < 4; ++i) recorder.record(numbered(i));
    REQUIRE(faas::test::wait_until([&] { return recorder.stored() == 2; }, 5s));
    CHECK(recorder.dropped() == 6);
}

TEST_CASE("records still waiting are stored when the recorder stops") {
    FakeStore fake;
    {
        CallRecorder recorder(fake.store(), CallRecorderOptions{1000, 500, 10s});
        for (int i = 0; i < 7; ++i) recorder.record(numbered(i));
    }
    CHECK(fake.all().size() == 7);
}

TEST_CASE("a synchronous call's record: one attempt, succeeded only for a 2xx") {
    const auto start = std::chrono::system_clock::now();
    auto ok = sync_call_record("id-1", "echo", 204, start, 0.25);
    CHECK(ok.sync);
    CHECK(ok.state == faas::queue::CallState::kSucceeded);
    CHECK(ok.attempts == 1);
    CHECK(ok.queue.empty());
    CHECK(ok.error.empty());
    CHECK(ok.started_at == start);
    REQUIRE(ok.finished_at);
    CHECK(*ok.finished_at - start == std::chrono::milliseconds(250));
    auto failed = sync_call_record("id-2", "echo", 502, start, 0.1);
    CHECK(failed.state == faas::queue::CallState::kFailed);
    CHECK(failed.error == "answered 502");
    CHECK(faas::queue::record_from_json(faas::queue::to_json(failed)) == failed);
}
