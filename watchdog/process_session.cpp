// The poll loop between a request and its child process.
#include "process_session.h"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace faas::watchdog {
namespace {

// After the child exits, output still held open by a descendant that left the process group
// (setsid) gets this long before we stop waiting for it.
constexpr auto kPostExitGrace = std::chrono::seconds(1);
constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

ProcessSession::ProcessSession(ChildProcess& child, OutputHandler on_output, ErrorHandler on_error,
                               std::optional<std::chrono::steady_clock::time_point> deadline,
                               std::uint64_t max_output)
    : child_(child),
      on_output_(std::move(on_output)),
      on_error_(std::move(on_error)),
      deadline_(deadline),
      max_output_(max_output),
      stdout_fd_(child.stdout_fd()),
      stderr_fd_(child.stderr_fd()) {}

void ProcessSession::end(SessionEnd why) {
    if (!ended_) ended_ = why;
    child_.kill_group();
}

bool ProcessSession::write_input(const char* data, std::size_t size) {
    if (ended_) return false;
    return pump(data, size, false);
}

SessionResult ProcessSession::finish() {
    child_.close_stdin();
    if (!ended_) pump(nullptr, 0, true);
    // Whatever happened, nothing of the group may outlive the request.
    child_.kill_group();
    SessionResult result;
    result.status = child_.reap();
    result.end = ended_.value_or(SessionEnd::kExited);
    result.output_bytes = output_bytes_;
    return result;
}

bool ProcessSession::drain(int& fd, bool is_stdout) {
    std::array<char, kReadChunk> buffer;
    // Read a bounded number of chunks per wake-up so stdin and the deadline stay serviced.
    for (int round = 0; round < 4; ++round) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            auto size = static_cast<std::size_t>(n);
            if (is_stdout) {
                if (max_output_ > 0 && output_bytes_ + size > max_output_) {
                    end(SessionEnd::kOutputTooLarge);
                    return false;
                }
                output_bytes_ += size;
                if (!on_output_(buffer.data(), size)) {
                    end(SessionEnd::kAborted);
                    return false;
                }
            } else if (on_error_) {
                on_error_(buffer.data(), size);
            }
            continue;
        }
        if (n == 0) {  // EOF
            if (is_stdout)
                child_.close_stdout();
            else
                child_.close_stderr();
            fd = -1;
            return true;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        if (is_stdout)
            child_.close_stdout();
        else
            child_.close_stderr();
        fd = -1;
        return true;
    }
    return true;
}

bool ProcessSession::pump(const char* data, std::size_t size, bool closing) {
    using Clock = std::chrono::steady_clock;
    while (!ended_) {
        bool want_input = !closing && size > 0 && child_.stdin_fd() >= 0;
        if (!closing && !want_input) return true;  // All input handed over (or not wanted).
        if (closing && stdout_fd_ < 0 && stderr_fd_ < 0 && exited_) return true;

        std::array<pollfd, 4> fds{};
        nfds_t count = 0;
        int in_index = -1, out_index = -1, err_index = -1, exit_index = -1;
        if (want_input) {
            in_index = static_cast<int>(count);
            fds[count++] = {child_.stdin_fd(), POLLOUT, 0};
        }
        if (stdout_fd_ >= 0) {
            out_index = static_cast<int>(count);
            fds[count++] = {stdout_fd_, POLLIN, 0};
        }
        if (stderr_fd_ >= 0) {
            err_index = static_cast<int>(count);
            fds[count++] = {stderr_fd_, POLLIN, 0};
        }
        if (!exited_ && child_.exit_fd() >= 0) {
            exit_index = static_cast<int>(count);
            fds[count++] = {child_.exit_fd(), POLLIN, 0};
        }

        int timeout_ms = -1;
        auto now = Clock::now();
        std::optional<Clock::time_point> wake = deadline_;
        if (exited_at_) {
            auto grace_end = *exited_at_ + kPostExitGrace;
            if (!wake || grace_end < *wake) wake = grace_end;
        }
        if (wake) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*wake - now).count();
            timeout_ms =
                static_cast<int>(std::max<long long>(0, std::min<long long>(left + 1, 60000)));
        }
        if (!exited_ && child_.exit_fd() < 0)
            timeout_ms = timeout_ms < 0 ? 10 : std::min(timeout_ms, 10);

        int ready = ::poll(fds.data(), count, timeout_ms);
        if (ready < 0 && errno != EINTR) {
            end(SessionEnd::kAborted);
            return false;
        }
        now = Clock::now();
        if (deadline_ && now >= *deadline_) {
            end(SessionEnd::kTimedOut);
            return false;
        }
        if (exited_at_ && now >= *exited_at_ + kPostExitGrace) {
            // A descendant outside the group still holds the pipes: stop listening to it.
            child_.close_stdout();
            child_.close_stderr();
            stdout_fd_ = stderr_fd_ = -1;
            continue;
        }
        if (ready <= 0) {
            if (!exited_ && child_.exit_fd() < 0 && child_.try_reap()) {
                exited_ = true;
                exited_at_ = now;
            }
            continue;
        }
        if (out_index >= 0 && (fds[out_index].revents & (POLLIN | POLLHUP | POLLERR)))
            if (!drain(stdout_fd_, true)) return false;
        if (err_index >= 0 && (fds[err_index].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(stderr_fd_, false);
        if (in_index >= 0 && fds[in_index].revents) {
            if (fds[in_index].revents & POLLOUT) {
                ssize_t n = ::write(child_.stdin_fd(), data, size);
                if (n > 0) {
                    data += n;
                    size -= static_cast<std::size_t>(n);
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    child_.close_stdin();  // EPIPE: the child does not want the rest.
                }
            } else {
                child_.close_stdin();  // POLLERR/POLLHUP: the read end is gone.
            }
        }
        if (exit_index >= 0 && (fds[exit_index].revents & POLLIN)) {
            exited_ = true;
            exited_at_ = now;
            // The function has returned; anything it left running in its group goes with it.
            child_.kill_group();
        }
    }
    return false;
}

}  // namespace faas::watchdog
