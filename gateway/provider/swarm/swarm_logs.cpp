// Swarm service logs: frames to lines, lines to entries, entries to streams.
#include "provider/swarm/swarm_logs.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "log.h"

namespace faas::gateway::swarm {
namespace {

bool wanted(const LogEntry& entry, const LogQuery& query) {
    if (!query.instance || query.instance->empty()) return true;
    // The full task ID, or any prefix of it as `docker` prints them.
    return entry.instance.rfind(*query.instance, 0) == 0;
}

std::string since_param(std::chrono::system_clock::time_point since) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
    char text[48];
    std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                  static_cast<long long>(ns % 1'000'000'000));
    return text;
}

// All lines of a finished request, handed out in one batch.
class FixedLogStream final : public LogStream {
  public:
    explicit FixedLogStream(std::vector<LogEntry> entries) : entries_(std::move(entries)) {}
    std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds) override {
        if (done_) return std::nullopt;
        done_ = true;
        return std::move(entries_);
    }

  private:
    std::vector<LogEntry> entries_;
    bool done_ = false;
};

// Follows a service's logs on a thread of its own; lines queue (bounded) until taken.
class FollowLogStream final : public LogStream {
  public:
    FollowLogStream(const DockerClient& docker, std::string path, LogQuery query)
        : query_(std::move(query)) {
        worker_ = std::thread([this, &docker, path = std::move(path)] { run(docker, path); });
    }
    ~FollowLogStream() override {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        if (worker_.joinable()) worker_.join();
    }

    std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds wait) override {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, wait, [&] { return !queue_.empty() || ended_; });
        if (queue_.empty() && ended_) return std::nullopt;
        std::vector<LogEntry> out(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
        queue_.clear();
        return out;
    }

  private:
    void run(const DockerClient& docker, const std::string& path) {
        LogDemuxer demuxer;
        auto push = [&](const std::vector<std::string>& lines) {
            std::lock_guard lock(mutex_);
            for (const auto& line : lines) {
                auto entry = parse_log_line(line, query_.name);
                if (!wanted(entry, query_)) continue;
                if (queue_.size() >= 10'000) queue_.pop_front();  // a slow reader loses the oldest
                queue_.push_back(std::move(entry));
            }
            ready_.notify_all();
        };
        auto keep_going = [&] {
            std::lock_guard lock(mutex_);
            return !stop_;
        };
        try {
            docker.stream(
                path,
                [&](std::string_view bytes) {
                    push(demuxer.feed(bytes));
                    return keep_going();
                },
                keep_going, std::chrono::hours(1));
        } catch (const std::exception& e) {
            log_line(std::string("Following logs of ") + query_.name + " ended: " + e.what());
        }
        if (auto last = demuxer.finish()) push({*last});
        std::lock_guard lock(mutex_);
        ended_ = true;
        ready_.notify_all();
    }

    const LogQuery query_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<LogEntry> queue_;
    bool stop_ = false;
    bool ended_ = false;
    std::thread worker_;
};

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::vector<std::string> LogDemuxer::feed(std::string_view bytes) {
    std::vector<std::string> out;
    if (mode_ == Mode::kUnknown && !bytes.empty()) {
        unsigned char first = static_cast<unsigned char>(bytes[0]);
        mode_ = first <= 2 ? Mode::kFramed : Mode::kRaw;
    }
    if (mode_ == Mode::kRaw) {
        take_payload(bytes, out);
        return out;
    }
    pending_.append(bytes);
    std::size_t offset = 0;
    while (pending_.size() - offset >= 8) {
        const auto* header = reinterpret_cast<const unsigned char*>(pending_.data() + offset);
        std::size_t length = (std::size_t{header[4]} << 24) | (std::size_t{header[5]} << 16) |
                             (std::size_t{header[6]} << 8) | std::size_t{header[7]};
        if (pending_.size() - offset - 8 < length) break;
        take_payload(std::string_view(pending_).substr(offset + 8, length), out);
        offset += 8 + length;
    }
    pending_.erase(0, offset);
    return out;
}

void LogDemuxer::take_payload(std::string_view payload, std::vector<std::string>& out) {
    // A line longer than this is cut: a runaway function must not grow the gateway.
    constexpr std::size_t kMaxLine = 64 * 1024;
    for (char c : payload) {
        if (c == '\n') {
            if (!line_.empty() && line_.back() == '\r') line_.pop_back();
            out.push_back(std::move(line_));
            line_.clear();
        } else if (line_.size() < kMaxLine) {
            line_.push_back(c);
        }
    }
}

std::optional<std::string> LogDemuxer::finish() {
    if (line_.empty()) return std::nullopt;
    std::string last = std::move(line_);
    line_.clear();
    return last;
}

LogEntry parse_log_line(std::string_view line, const std::string& function_name) {
    LogEntry entry;
    entry.name = function_name;
    auto space = line.find(' ');
    if (space != std::string_view::npos && space >= 20 && line[4] == '-' && line[10] == 'T') {
        entry.timestamp = std::string(line.substr(0, space));
        line.remove_prefix(space + 1);
    }
    if (starts_with(line, "com.docker.swarm.")) {
        auto end = line.find(' ');
        std::string_view details = line.substr(0, end);
        line = end == std::string_view::npos ? std::string_view() : line.substr(end + 1);
        std::string_view key = "com.docker.swarm.task.id=";
        if (auto at = details.find(key); at != std::string_view::npos) {
            auto value = details.substr(at + key.size());
            entry.instance = std::string(value.substr(0, value.find(',')));
        }
    }
    entry.text = std::string(line);
    return entry;
}

std::unique_ptr<LogStream> service_logs(const DockerClient& docker, const std::string& service_id,
                                        const LogQuery& query) {
    std::string path = "/services/" + service_id + "/logs?stdout=1&stderr=1&timestamps=1&details=1";
    path += "&tail=" + (query.tail >= 0 ? std::to_string(query.tail) : std::string("all"));
    if (query.since) path += "&since=" + since_param(*query.since);
    if (query.follow) {
        path += "&follow=1";
        return std::make_unique<FollowLogStream>(docker, path, query);
    }
    auto response = docker.request("GET", path, nullptr, {}, std::chrono::seconds(15));
    if (!response.ok()) throw_engine_error("logs of " + query.name, response);
    LogDemuxer demuxer;
    auto lines = demuxer.feed(response.body);
    if (auto last = demuxer.finish()) lines.push_back(*last);
    std::vector<LogEntry> entries;
    for (const auto& line : lines) {
        auto entry = parse_log_line(line, query.name);
        if (wanted(entry, query)) entries.push_back(std::move(entry));
    }
    // Tasks' lines arrive interleaved by task; a reader expects time order.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.timestamp < b.timestamp; });
    return std::make_unique<FixedLogStream>(std::move(entries));
}

}  // namespace faas::gateway::swarm
