// Replica health probes and the rotation rule.
#include "provider/local/health_probe.h"

#include <httplib.h>

#include <future>
#include <system_error>

namespace faas::gateway {

Health probe_health(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    client.set_write_timeout(1, 0);
    auto res = client.Get("/_/health");
    if (res) return res->status == 200 ? Health::kHealthy : Health::kUnhealthy;
    return res.error() == httplib::Error::Connection ? Health::kUnhealthy : Health::kNoAnswer;
}

std::future<Health> start_probe(int port) {
    try {
        return std::async(std::launch::async, probe_health, port);
    } catch (const std::system_error&) {
        return std::async(std::launch::deferred, probe_health, port);
    }
}

HealthRecord::Change HealthRecord::record(Health health, Clock::time_point now) {
    next_probe_ = now + kInterval;
    unanswered_ = health == Health::kNoAnswer ? unanswered_ + 1 : 0;
    if (health == Health::kHealthy && !ready_) {
        ready_ = true;
        ever_ready_ = true;
        ready_since_ = now;
        return Change::kJoined;
    }
    if (ready_ && health == Health::kUnhealthy) {
        ready_ = false;
        return Change::kFailed;
    }
    if (ready_ && unanswered_ >= kRetries) {
        ready_ = false;
        return Change::kUnanswered;
    }
    return Change::kNone;
}

}  // namespace faas::gateway
