// Call records as JSON.
#include "call_record.h"

#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "base64.h"
#include "time_format.h"

namespace faas::queue {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr std::array<std::pair<CallState, std::string_view>, 6> kStateNames{{
    {CallState::kQueued, "queued"},
    {CallState::kRunning, "running"},
    {CallState::kSucceeded, "succeeded"},
    {CallState::kFailed, "failed"},
    {CallState::kDeadLettered, "dead-lettered"},
    {CallState::kCancelled, "cancelled"},
}};

Clock::time_point time_at(const Json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string())
        throw std::invalid_argument(std::string("call record: '") + key + "' is not a time");
    auto parsed = parse_rfc3339(it->get<std::string>());
    if (!parsed) throw std::invalid_argument(std::string("call record: bad time in '") + key + "'");
    return *parsed;
}

std::optional<Clock::time_point> optional_time(const Json& object, const char* key) {
    if (!object.contains(key) || object[key].is_null()) return std::nullopt;
    return time_at(object, key);
}

}  // namespace

std::string_view state_name(CallState state) {
    for (const auto& [known, name] : kStateNames)
        if (known == state) return name;
    return "queued";
}

std::optional<CallState> parse_state(std::string_view name) {
    for (const auto& [state, known] : kStateNames)
        if (known == name) return state;
    return std::nullopt;
}

bool is_final(CallState state) {
    return state != CallState::kQueued && state != CallState::kRunning;
}

std::string to_json(const CallRecord& record) {
    Json out = {
        {"callId", record.call_id},
        {"function", record.function},
        {"queue", record.queue},
        {"status", state_name(record.state)},
        {"attempts", record.attempts},
        {"statusCode", record.status_code},
        {"durationSeconds", record.duration_seconds},
        {"queuedAt", rfc3339_nano(record.queued_at)},
        {"startedAt", record.started_at ? Json(rfc3339_nano(*record.started_at)) : Json()},
        {"finishedAt", record.finished_at ? Json(rfc3339_nano(*record.finished_at)) : Json()},
        {"keepResult", record.keep_result},
        {"sync", record.sync},
    };
    if (!record.error.empty()) out["error"] = record.error;
    if (record.callback_url) out["callbackUrl"] = *record.callback_url;
    if (record.result) out["result"] = base64_encode(*record.result);
    if (record.result_truncated) out["resultTruncated"] = true;
    return out.dump();
}

CallRecord record_from_json(std::string_view text) {
    Json in = Json::parse(text, nullptr, false);
    if (in.is_discarded() || !in.is_object())
        throw std::invalid_argument("call record: not a JSON object");
    try {
        CallRecord record;
        record.call_id = in.at("callId").get<std::string>();
        record.function = in.at("function").get<std::string>();
        record.queue = in.at("queue").get<std::string>();
        auto state = parse_state(in.at("status").get<std::string>());
        if (!state) throw std::invalid_argument("call record: unknown status");
        record.state = *state;
        record.attempts = in.at("attempts").get<int>();
        record.status_code = in.at("statusCode").get<int>();
        record.duration_seconds = in.at("durationSeconds").get<double>();
        record.queued_at = time_at(in, "queuedAt");
        record.started_at = optional_time(in, "startedAt");
        record.finished_at = optional_time(in, "finishedAt");
        record.keep_result = in.value("keepResult", false);
        record.error = in.value("error", "");
        if (in.contains("callbackUrl")) record.callback_url = in["callbackUrl"].get<std::string>();
        if (in.contains("result")) {
            auto body = base64_decode(in["result"].get<std::string>());
            if (!body) throw std::invalid_argument("call record: 'result' is not base64");
            record.result = std::move(*body);
        }
        record.result_truncated = in.value("resultTruncated", false);
        record.sync = in.value("sync", false);
        return record;
    } catch (const Json::exception& e) {
        throw std::invalid_argument(std::string("call record: ") + e.what());
    }
}

}  // namespace faas::queue
