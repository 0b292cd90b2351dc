// The names the gateway and the queue workers agree on: one stream of queued calls with a
// subject per named queue, a durable consumer per queue, the dead-letter stream and the
// bucket of call records.
#pragma once

#include <string>

namespace faas::queue {

/// Where calls are stored: subjects faas.calls.<queue>.
inline constexpr const char* kCallStream = "faas-calls";
/// Calls that used their last attempt, with the reason: subjects faas.dead.<queue>.
inline constexpr const char* kDeadLetterStream = "faas-dead-letters";
/// Call records by call id.
inline constexpr const char* kRecordBucket = "faas-calls";
/// Records of synchronous calls (record_calls=all), by call id: a bucket apart, bounded in
/// size, so a client's X-Call-Id can never overwrite an asynchronous call's record.
inline constexpr const char* kSyncRecordBucket = "faas-sync-calls";
/// Set by a queue worker on the calls it makes through the gateway, which records them as
/// part of the asynchronous call, not as synchronous calls of their own.
inline constexpr const char* kQueuedCallHeader = "X-Faas-Queued-Call";
/// The queue of a function without com.openfaas.queue (OpenFaaS's default channel name).
inline constexpr const char* kDefaultQueue = "faas-request";
/// The annotation (label) naming a function's queue, as in OpenFaaS.
inline constexpr const char* kQueueLabel = "com.openfaas.queue";

inline std::string call_subject(const std::string& queue) {
    return "faas.calls." + queue;
}
inline std::string dead_letter_subject(const std::string& queue) {
    return "faas.dead." + queue;
}
/// The durable consumer every worker of `queue` shares.
inline std::string worker_consumer(const std::string& queue) {
    return "workers-" + queue;
}

}  // namespace faas::queue
