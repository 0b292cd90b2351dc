// Bounded in-memory log lines per function.
#include "provider/log_buffer.h"

#include <cstdio>
#include <ctime>

namespace faas::gateway {

std::string rfc3339_nano(std::chrono::system_clock::time_point time) {
    auto since_epoch = time.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
    std::time_t t = seconds.count();
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char text[64];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%09lldZ", static_cast<long long>(nanos.count()));
    return text;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    std::string copy(text);
    int consumed = 0;
    if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                    &second, &consumed) != 6)
        return std::nullopt;
    // Past 2261 nanoseconds since the epoch overflow the clock's 64 bits.
    if (year < 1970 || year > 2261) return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    std::string_view rest = std::string_view(copy).substr(static_cast<std::size_t>(consumed));
    long long nanos = 0;
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        int digits = 0;
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            if (digits < 9) {
                nanos = nanos * 10 + (rest.front() - '0');
                ++digits;
            }
            rest.remove_prefix(1);
        }
        while (digits++ < 9) nanos *= 10;
    }
    long offset_seconds = 0;
    if (rest == "Z" || rest == "z") {
        offset_seconds = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        int oh = 0, om = 0;
        if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2)
            return std::nullopt;
        offset_seconds = (oh * 3600L + om * 60L) * (rest[0] == '+' ? 1 : -1);
    } else {
        return std::nullopt;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    std::time_t t = ::timegm(&tm);
    return std::chrono::system_clock::time_point(std::chrono::seconds(t - offset_seconds)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               std::chrono::nanoseconds(nanos));
}

class LogBuffer::Stream final : public LogStream {
  public:
    Stream(std::shared_ptr<LogBuffer> buffer, LogQuery query, std::uint64_t cursor)
        : buffer_(std::move(buffer)), query_(std::move(query)), cursor_(cursor) {}

    std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds wait) override {
        std::unique_lock lock(buffer_->mutex_);
        auto collected = collect();
        if (!collected.empty()) return collected;
        if (!query_.follow || buffer_->closed_) return std::nullopt;
        buffer_->changed_.wait_for(lock, wait);
        collected = collect();
        if (collected.empty() && buffer_->closed_) return std::nullopt;
        return collected;
    }

  private:
    // Caller holds the buffer's mutex.
    std::vector<LogEntry> collect() {
        std::vector<LogEntry> out;
        for (const auto& line : buffer_->lines_) {
            if (line.sequence < cursor_) continue;
            cursor_ = line.sequence + 1;
            if (query_.instance && line.entry.instance != *query_.instance) continue;
            if (query_.since && line.time < *query_.since) continue;
            out.push_back(line.entry);
        }
        if (cursor_ < buffer_->next_sequence_) cursor_ = buffer_->next_sequence_;
        return out;
    }

    std::shared_ptr<LogBuffer> buffer_;
    LogQuery query_;
    std::uint64_t cursor_;
};

LogBuffer::LogBuffer(std::string function_name, std::size_t max_lines)
    : function_name_(std::move(function_name)), max_lines_(max_lines) {}

void LogBuffer::append(const std::string& instance, std::string text) {
    auto now = std::chrono::system_clock::now();
    {
        std::lock_guard lock(mutex_);
        lines_.push_back(
            Line{next_sequence_++, now,
                 LogEntry{function_name_, instance, rfc3339_nano(now), std::move(text)}});
        while (lines_.size() > max_lines_) lines_.pop_front();
    }
    changed_.notify_all();
}

void LogBuffer::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    changed_.notify_all();
}

std::unique_ptr<LogStream> LogBuffer::stream(const LogQuery& query) {
    std::lock_guard lock(mutex_);
    std::uint64_t cursor = lines_.empty() ? next_sequence_ : lines_.front().sequence;
    if (query.tail >= 0) {
        // Start so that exactly the last `tail` matching lines are delivered.
        std::size_t matching = 0;
        cursor = next_sequence_;
        for (auto it = lines_.rbegin(); it != lines_.rend(); ++it) {
            if (matching == static_cast<std::size_t>(query.tail)) break;
            if (query.instance && it->entry.instance != *query.instance) continue;
            if (query.since && it->time < *query.since) continue;
            ++matching;
            cursor = it->sequence;
        }
    }
    return std::make_unique<Stream>(shared_from_this(), query, cursor);
}

}  // namespace faas::gateway
