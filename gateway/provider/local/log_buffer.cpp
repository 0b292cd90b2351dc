// Bounded in-memory log lines per function.
#include "provider/local/log_buffer.h"

#include "time_format.h"

namespace faas::gateway {

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
                 LogEntry{function_name_, instance, faas::rfc3339_nano(now), std::move(text)}});
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
