// The last lines each function's replicas wrote, kept in memory (bounded) for /system/logs,
// with a condition variable so followers wake on new lines.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "provider/function_provider.h"

namespace faas::gateway {

class LogBuffer : public std::enable_shared_from_this<LogBuffer> {
  public:
    explicit LogBuffer(std::string function_name, std::size_t max_lines = 2000);

    void append(const std::string& instance, std::string text);
    /// Wakes followers and ends their streams (function removed, gateway stopping).
    void close();
    /// A stream over this buffer honouring tail/since/instance/follow.
    std::unique_ptr<LogStream> stream(const LogQuery& query);

  private:
    struct Line {
        std::uint64_t sequence;
        std::chrono::system_clock::time_point time;
        LogEntry entry;
    };
    class Stream;

    const std::string function_name_;
    const std::size_t max_lines_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Line> lines_;
    std::uint64_t next_sequence_ = 0;
    bool closed_ = false;
};

}  // namespace faas::gateway
