// Handling one delivered call.
#include "call_handler.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <optional>
#include <stdexcept>

#include "call_message.h"
#include "call_record.h"
#include "callback.h"
#include "function_call.h"
#include "log.h"
#include "outcome.h"
#include "queue_names.h"
#include "record_transitions.h"
#include "settings.h"

namespace faas::queue_worker {
namespace {

constexpr std::chrono::seconds kDeadLetterPublishTimeout{5};

std::string seconds_text(double seconds) {
    char text[32];
    auto end = std::to_chars(text, text + sizeof text, seconds, std::chars_format::fixed, 3).ptr;
    return std::string(text, end);
}

/// The record stored for `call_id`: nullopt when there is none or it cannot be read (it is
/// then written anew from the message). Throws QueueError when the bucket cannot be read.
std::optional<queue::CallRecord> read_record(queue::KeyValue& records, const std::string& call_id) {
    std::optional<std::string> text = records.get(call_id);
    if (!text) return std::nullopt;
    try {
        return queue::record_from_json(*text);
    } catch (const std::invalid_argument& e) {
        log_line("Call " + call_id + ": unreadable record replaced: " + e.what());
        return std::nullopt;
    }
}

/// Stores `record`; a failure is logged, not fatal: the call matters more than its record.
void write_record(queue::KeyValue& records, const queue::CallRecord& record) {
    try {
        records.put(record.call_id, queue::to_json(record));
    } catch (const queue::QueueError& e) {
        log_line("Call " + record.call_id + ": cannot write its record (" +
                 std::string(queue::state_name(record.state)) + "): " + e.what());
    }
}

/// How long a finished call's record write is retried while NATS is away, at least.
constexpr std::chrono::seconds kRecordWait{10};

/// Stores `record`, trying again (100 ms, doubling to 1 s) until `deadline` or a stop; false
/// when it was not stored. The first failure is logged.
bool store_until(queue::KeyValue& records, const queue::CallRecord& record,
                 Clock::time_point deadline, const StopFlag& stop) {
    auto pause = std::chrono::milliseconds(100);
    for (bool first = true;; first = false) {
        try {
            records.put(record.call_id, queue::to_json(record));
            if (!first) log_line("Call " + record.call_id + ": record stored after all");
            return true;
        } catch (const queue::QueueError& e) {
            if (first)
                log_line("Call " + record.call_id + ": cannot write its record (" +
                         std::string(queue::state_name(record.state)) +
                         "), trying again: " + e.what());
        }
        if (Clock::now() + pause > deadline || stop.wait_for(pause)) return false;
        pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(1));
    }
}

/// Acknowledges, logging a failure: the server then delivers the call again.
void settle(const std::string& call_id, const char* verb, const std::function<void()>& send) {
    try {
        send();
    } catch (const queue::QueueError& e) {
        log_line("Call " + call_id + ": " + verb +
                 " failed, it will be delivered again: " + e.what());
    }
}

}  // namespace

CallHandler::CallHandler(const Config& config, queue::JetStream& js, queue::KeyValue& records,
                         InProgressTicker& ticker, const StopFlag& stop, WorkerMetrics& metrics)
    : config_(config),
      js_(js),
      records_(records),
      ticker_(ticker),
      stop_(stop),
      metrics_(metrics) {}

void CallHandler::handle(queue::Delivery& delivery, HttpClient& client) {
    const auto in_flight = metrics_.in_flight();
    queue::CallMessage message;
    try {
        message = queue::decode(delivery.data(), config_.max_async_bytes);
    } catch (const queue::BadMessage& e) {
        // Nothing to call and no one to tell: dropped for good, never delivered again.
        log_line("Dropping message " + std::to_string(delivery.stream_sequence()) + " on " +
                 std::string(delivery.subject()) + ": " + e.what());
        settle("?", "term", [&] { delivery.term(); });
        return;
    }
    const std::string& id = message.call_id;
    const int attempt = static_cast<int>(std::clamp<std::uint64_t>(
        delivery.num_delivered(), 1, static_cast<std::uint64_t>(INT_MAX)));
    // Kept in progress from here until it is settled, however long the call and callback take.
    std::optional<InProgressTicker::Scope> keep_alive;
    keep_alive.emplace(ticker_, delivery);

    const std::optional<queue::CallRecord> stored = read_record(records_, id);
    if (stored && stored->state == queue::CallState::kCancelled) {
        log_line("Call " + id + " function " + message.function + ": cancelled, not called");
        metrics_.call_cancelled(message.function);
        keep_alive.reset();
        settle(id, "ack", [&] { delivery.ack(); });
        return;
    }
    if (stored && queue::is_final(stored->state)) {
        // An earlier delivery finished it (and called back) but its acknowledgement was lost.
        log_line("Call " + id + " function " + message.function + ": already " +
                 std::string(queue::state_name(stored->state)) + ", not called again");
        keep_alive.reset();
        settle(id, "ack", [&] { delivery.ack(); });
        return;
    }

    queue::CallRecord record = mark_running(current_record(message, stored), attempt, Clock::now());
    write_record(records_, record);

    HttpResponse answer =
        client.send(function_request(message, config_.gateway_url, config_.upstream_timeout));
    const bool usable = answer.error.empty();
    metrics_.attempt_took(answer.duration_seconds);
    Outcome outcome = answer.too_large ? Outcome{OutcomeKind::kFailed, {}, answer.error}
                                       : decide_outcome(config_.retry, answer.status, attempt);
    const AttemptResult result{answer.status, answer.duration_seconds, answer.body};
    std::string line = "Call " + id + " function " + message.function + " attempt " +
                       std::to_string(attempt) + " status " + std::to_string(answer.status) +
                       " duration " + seconds_text(answer.duration_seconds) +
                       "s: " + outcome_name(outcome.kind);
    if (!answer.error.empty()) line += " (" + answer.error + ")";

    if (outcome.kind == OutcomeKind::kRetry) {
        write_record(records_, mark_retrying(std::move(record), result));
        log_line(line + " in " + format_duration(outcome.retry_after));
        metrics_.retry_scheduled(message.function);
        keep_alive.reset();
        settle(id, "nak", [&] { delivery.nak(outcome.retry_after); });
        return;
    }

    if (outcome.kind == OutcomeKind::kDeadLettered) {
        try {
            js_.publish(queue::dead_letter_subject(config_.queue), delivery.data(), id,
                        kDeadLetterPublishTimeout,
                        {{"Faas-Dead-Letter-Reason", outcome.error},
                         {"Faas-Call-Id", id},
                         {"Faas-Function", message.function},
                         {"Faas-Attempts", std::to_string(attempt)},
                         {"Faas-Last-Status", std::to_string(answer.status)}});
        } catch (const queue::QueueError& e) {
            // Not acknowledged: it comes back, is called once more and dead-lettered then.
            log_line(line + ", but the dead letter could not be stored: " + e.what());
            keep_alive.reset();
            settle(id, "nak", [&] { delivery.nak(queue::backoff(config_.retry, attempt)); });
            return;
        }
        line += ": " + outcome.error;
    } else if (outcome.kind == OutcomeKind::kFailed) {
        line += ": " + outcome.error;
    }
    log_line(line);

    // Called back before the final record is written: if this worker dies in between, the
    // record still says running and the redelivered call calls back; once the record is
    // final, a redelivery (a lost acknowledgement) is not called again.
    if (message.callback_url) {
        // Without an answer to pass on, the receiver gets what the gateway would have said.
        const std::string reason = answer.too_large
                                       ? "The function's " + answer.error
                                       : "No answer through the gateway: " + answer.error;
        const queue::HeaderList plain{{"Content-Type", "text/plain; charset=utf-8"}};
        HttpRequest callback =
            usable ? callback_request(message, answer.status, answer.headers, answer.body,
                                      answer.duration_seconds)
                   : callback_request(message, 502, plain, reason, answer.duration_seconds);
        CallbackResult sent =
            deliver_callback(client, callback, config_.max_callback_attempts, config_.retry, stop_);
        if (sent.interrupted) {
            log_line("Call " + id + ": stopping before its callback was delivered; left for " +
                     "another delivery");
            keep_alive.reset();
            settle(id, "nak", [&] { delivery.nak(); });
            return;
        }
        metrics_.callback_sent(sent.delivered);
        if (!sent.delivered)
            log_line("Call " + id + ": callback to " + *message.callback_url + " given up after " +
                     std::to_string(sent.attempts) + " attempt(s): " +
                     (sent.status ? "status " + std::to_string(sent.status) : sent.error));
    }

    // Acknowledged only once its final record is stored: NATS away at this moment (the client
    // would send the acknowledgement when it reconnects, but a record write fails at once)
    // must not leave a call acknowledged and "running" for ever. Not stored in time: it is
    // delivered again and made again (at least once).
    const auto deadline = Clock::now() + std::max<Clock::duration>(config_.ack_wait, kRecordWait);
    if (!store_until(records_, mark_finished(std::move(record), outcome, result, Clock::now()),
                     deadline, stop_)) {
        log_line("Call " + id + ": its final record could not be stored; left for another " +
                 "delivery");
        keep_alive.reset();
        settle(id, "nak", [&] { delivery.nak(); });
        return;
    }
    metrics_.call_finished(message.function, outcome.kind);
    keep_alive.reset();
    settle(id, "ack", [&] { delivery.ack(); });
}

}  // namespace faas::queue_worker
