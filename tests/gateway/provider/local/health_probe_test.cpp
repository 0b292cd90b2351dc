// The rotation rule for local replicas: one unhealthy answer takes a replica out, silence only
// after three probes in a row, and a replica out of rotation is probed at every pass.
#include "provider/local/health_probe.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using Change = HealthRecord::Change;

TEST_CASE("a replica joins on its first healthy answer and is then probed every second") {
    HealthRecord record;
    auto now = HealthRecord::Clock::now();
    CHECK(record.due(now));
    CHECK(record.record(Health::kUnhealthy, now) == Change::kNone);  // not listening yet
    CHECK(record.due(now));  // still starting: probed again at the next pass
    CHECK(record.record(Health::kHealthy, now) == Change::kJoined);
    CHECK(record.ready());
    CHECK_FALSE(record.due(now + std::chrono::milliseconds(500)));
    CHECK(record.due(now + HealthRecord::kInterval));
}

TEST_CASE("unhealthy leaves at once, no answer only after three in a row") {
    auto now = HealthRecord::Clock::now();
    HealthRecord record;
    record.record(Health::kHealthy, now);
    CHECK(record.record(Health::kNoAnswer, now) == Change::kNone);
    CHECK(record.record(Health::kNoAnswer, now) == Change::kNone);
    CHECK(record.record(Health::kHealthy, now) == Change::kNone);  // the run is broken
    CHECK(record.record(Health::kNoAnswer, now) == Change::kNone);
    CHECK(record.record(Health::kNoAnswer, now) == Change::kNone);
    CHECK(record.record(Health::kNoAnswer, now) == Change::kUnanswered);
    CHECK_FALSE(record.ready());
    CHECK(record.record(Health::kHealthy, now) == Change::kJoined);
    CHECK(record.record(Health::kUnhealthy, now) == Change::kFailed);
    CHECK_FALSE(record.ready());
    CHECK(record.ever_ready());
}

TEST_CASE("nothing listening is an unhealthy answer, not silence") {
    // Port 1 on loopback: refused at once.
    CHECK(probe_health(1) == Health::kUnhealthy);
    CHECK(start_probe(1).get() == Health::kUnhealthy);
}
