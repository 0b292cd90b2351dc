// Storing asynchronous calls and reading their records.
#include "async/call_queue.h"

#include <algorithm>

#include "errors.h"
#include "log.h"
#include "queue_names.h"
#include "queue_setup.h"

namespace faas::gateway {

using queue::CallRecord;
using queue::CallState;

CallQueue::CallQueue(CallQueueOptions options) : options_(std::move(options)) {}

CallQueue::Handles CallQueue::handles() {
    std::lock_guard lock(mutex_);
    // Made again after a failure: NATS may have come up since.
    if (records_) return Handles{*jetstream_, *records_, sync_records_};
    if (!jetstream_) {
        if (options_.before_connect) options_.before_connect();
        queue::ConnectOptions connect;
        connect.url = options_.nats_url;
        connect.client_name = "faas-gateway";
        connect.retry_in_background = true;
        jetstream_ = queue::JetStream::connect(connect);
    }
    const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(options_.record_ttl);
    if (options_.record_sync)
        sync_records_ =
            jetstream_->ensure_bucket(queue::kSyncRecordBucket, ttl, 1, options_.sync_records_kept);
    records_ = queue::ensure_queue(*jetstream_, ttl);
    log_line("Asynchronous calls: the queue on " + options_.nats_url + " is ready");
    return Handles{*jetstream_, *records_, sync_records_};
}

std::size_t CallQueue::store_sync_records(const std::vector<CallRecord>& records) {
    auto bucket = handles().sync_records;
    if (!bucket) throw queue::QueueError("synchronous calls are not recorded (record_calls)");
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(records.size());
    for (const auto& record : records) entries.emplace_back(record.call_id, queue::to_json(record));
    return bucket->put_all(entries, options_.publish_timeout);
}

CallQueue::Stored CallQueue::enqueue(const queue::CallMessage& message, bool new_id) {
    Handles now = handles();
    queue::JetStream& jetstream = now.jetstream;
    queue::KeyValue& records = now.records;
    const std::string bytes = queue::encode(message);
    const std::int64_t max_payload = jetstream.max_payload();
    if (max_payload > 0 && static_cast<std::int64_t>(bytes.size()) > max_payload)
        throw PayloadTooLarge("The call is " + std::to_string(bytes.size()) +
                              " bytes with its headers, more than NATS's max_payload (" +
                              std::to_string(max_payload) + ").");

    // The record is written before the call is stored, so a worker never finds a stale one: a
    // final record of an earlier call with this id would read as "done, acknowledgement lost"
    // and the new call would be skipped. A record of a call still queued or running is a
    // client's retry within the duplicate window: left alone.
    std::optional<std::string> before;
    if (!new_id) before = records.get(message.call_id);
    bool wrote = false;
    auto finished = [](const std::string& text) {
        try {
            return queue::is_final(queue::record_from_json(text).state);
        } catch (const std::invalid_argument&) {
            return true;  // unreadable: replaced
        }
    };
    if (!before || finished(*before)) {
        CallRecord record;
        record.call_id = message.call_id;
        record.function = message.function;
        record.queue = message.queue;
        record.queued_at = message.enqueued_at;
        record.callback_url = message.callback_url;
        record.keep_result = message.keep_result;
        records.put(message.call_id, queue::to_json(record));
        wrote = true;
    }
    auto restore = [&] {
        // Best effort: the call was not stored, or was a duplicate of a finished one.
        if (!wrote) return;
        try {
            if (before)
                records.put(message.call_id, *before);
            else
                records.erase(message.call_id);
        } catch (const std::exception& e) {
            log_line("Call " + message.call_id + ": cannot restore its record: " + e.what());
        }
    };
    try {
        auto ack = jetstream.publish(queue::call_subject(message.queue), bytes, message.call_id,
                                     options_.publish_timeout);
        if (ack.duplicate) restore();
        return Stored{ack.duplicate};
    } catch (...) {
        restore();
        throw;
    }
}

std::optional<CallRecord> CallQueue::record(const std::string& call_id) {
    Handles now = handles();
    auto text = now.records.get(call_id);
    if (!text && now.sync_records) text = now.sync_records->get(call_id);
    if (!text) return std::nullopt;
    try {
        return queue::record_from_json(*text);
    } catch (const std::invalid_argument& e) {
        throw queue::QueueError("the record of call " + call_id + " is unreadable: " + e.what());
    }
}

std::vector<CallRecord> CallQueue::records(const std::string& function,
                                           std::optional<CallState> state, std::size_t limit) {
    Handles now = handles();
    std::vector<CallRecord> found;
    auto take = [&](queue::KeyValue& bucket) {
        for (const auto& [key, text] : bucket.entries()) {
            try {
                auto record = queue::record_from_json(text);
                if (!function.empty() && record.function != function) continue;
                if (state && record.state != *state) continue;
                found.push_back(std::move(record));
            } catch (const std::invalid_argument&) {
                continue;  // not ours to show
            }
        }
    };
    take(now.records);
    if (now.sync_records) take(*now.sync_records);
    std::sort(found.begin(), found.end(),
              [](const CallRecord& a, const CallRecord& b) { return a.queued_at > b.queued_at; });
    if (found.size() > limit) found.resize(limit);
    return found;
}

std::optional<CallRecord> CallQueue::cancel(const std::string& call_id) {
    auto records = handles().records;
    auto text = records.get(call_id);
    if (!text) return record(call_id);  // a synchronous call's, final; or none
    CallRecord record;
    try {
        record = queue::record_from_json(*text);
    } catch (const std::invalid_argument& e) {
        throw queue::QueueError("the record of call " + call_id + " is unreadable: " + e.what());
    }
    if (record.state != CallState::kQueued) return record;
    record.state = CallState::kCancelled;
    record.finished_at = std::chrono::system_clock::now();
    records.put(call_id, queue::to_json(record));
    return record;
}

}  // namespace faas::gateway
