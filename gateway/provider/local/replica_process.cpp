// Starting and stopping one fwatchdog replica.
#include "provider/local/replica_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "provider/local/secret_mounts.h"

namespace faas::gateway {

namespace bp = boost::process;

struct ReplicaProcess::ChildHolder {
    bp::child child;
};

struct ReplicaProcess::Output {
    std::atomic<int> port{0};
    LineSink on_line;
};

namespace {

// Closes an fd on scope exit unless released.
class FdGuard {
  public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard() {
        if (fd_ >= 0) ::close(fd_);
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    int get() const { return fd_; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_;
};

}  // namespace

std::optional<int> announced_port(std::string_view line) {
    constexpr std::string_view kMarker = "Listening on port: ";
    // Go's log prefix "2006/01/02 15:04:05 " is 20 characters; accept the marker right after it
    // or at the start, never in the middle of some other message.
    std::string_view message = line;
    if (line.size() > 20 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[19] == ' ')
        message = line.substr(20);
    if (message.substr(0, kMarker.size()) != kMarker) return std::nullopt;
    message.remove_prefix(kMarker.size());
    int port = 0;
    std::size_t digits = 0;
    while (digits < message.size() && message[digits] >= '0' && message[digits] <= '9' &&
           digits < 6) {
        port = port * 10 + (message[digits] - '0');
        ++digits;
    }
    if (digits == 0 || port <= 0 || port > 65535) return std::nullopt;
    return port;
}

ReplicaProcess::ReplicaProcess(const std::string& executable,
                               const std::map<std::string, std::string>& env, LineSink on_line,
                               const ReplicaFiles& files)
    : output_(std::make_shared<Output>()) {
    output_->on_line = std::move(on_line);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    FdGuard read_end(fds[0]);
    FdGuard write_end(fds[1]);

    // The environment is handed to execve directly: Boost 1.74's basic_environment::find
    // reads past the end of shorter keys (AddressSanitizer catches it).
    std::vector<std::string> entries;
    entries.reserve(env.size());
    for (const auto& [key, value] : env) entries.push_back(key + "=" + value);
    std::vector<char*> envp;
    envp.reserve(entries.size() + 1);
    for (auto& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    auto use_env = [&envp](auto& executor) { executor.env = envp.data(); };

    const int output_fd = write_end.get();
    const pid_t parent = ::getpid();
    // Runs in the child between fork and exec: only async-signal-safe calls.
    const char* workdir = files.working_dir.empty() ? nullptr : files.working_dir.c_str();
    const bool bind_secrets = !files.secrets_dir.empty() && !files.secrets_target.empty();
    const char* secrets = files.secrets_dir.c_str();
    const char* target = files.secrets_target.c_str();
    auto setup = [output_fd, parent, workdir, bind_secrets, secrets, target](auto& /*executor*/) {
        ::setpgid(0, 0);  // own group: stopping the replica also stops what it forked
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a gateway killed outright leaves no orphans
        if (::getppid() != parent) ::_exit(1);
        if (workdir != nullptr && ::chdir(workdir) != 0) ::_exit(127);
        ::dup2(output_fd, STDOUT_FILENO);
        ::dup2(output_fd, STDERR_FILENO);
        if (bind_secrets && !bind_read_only(secrets, target)) {
            static constexpr char kMessage[] = "cannot mount the replica's secrets\n";
            [[maybe_unused]] auto written = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
            ::_exit(126);
        }
        // The gateway's sockets and other replicas' pipes must not leak into this one.
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    };
    std::error_code ec;
    child_ = std::make_unique<ChildHolder>(ChildHolder{
        bp::child(bp::exe = executable, bp::std_in < bp::null, bp::extend::on_setup = use_env,
                  bp::extend::on_exec_setup = setup, ec)});
    if (ec || !child_->child.valid())
        throw std::runtime_error("cannot start " + executable + ": " + ec.message());
    pid_ = child_->child.id();
    write_end.release();
    ::close(fds[1]);
    std::thread([output = output_, fd = read_end.release()] { read_lines(fd, *output); }).detach();
}

ReplicaProcess::~ReplicaProcess() {
    kill_group();
    std::error_code ec;
    if (child_ && child_->child.valid()) {
        child_->child.wait(ec);  // reap; the group was just killed, so this is immediate
        child_->child.detach();
    }
}

std::optional<int> ReplicaProcess::port() const {
    int port = output_->port.load(std::memory_order_acquire);
    if (port == 0) return std::nullopt;
    return port;
}

bool ReplicaProcess::running() {
    if (exit_code_) return false;
    std::error_code ec;
    if (child_->child.running(ec)) return true;
    int status = child_->child.native_exit_code();
    exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    return false;
}

void ReplicaProcess::terminate() const {
    if (pid_ > 0 && !exit_code_) ::kill(pid_, SIGTERM);
}

void ReplicaProcess::kill_group() const {
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

void ReplicaProcess::read_lines(int fd, Output& output) {
    // Bounded lines: a replica that never writes a newline cannot grow the gateway's memory.
    constexpr std::size_t kMaxLine = 16 * 1024;
    // The watchdog logs two lines per call: read one at a time, that is two wake-ups of this
    // thread per call (in serializing mode a tenth of the gateway's CPU per call). Once the
    // replica is up, a read that drained the pipe is followed by a short pause so that lines
    // are taken in batches; the 64 KiB pipe holds 20 ms of anything below 3 MiB/s, and a
    // fuller read is followed at once, so a chatty function is never held up writing.
    constexpr auto kBatchPause = std::chrono::milliseconds(20);
    constexpr std::size_t kBufferSize = 64 * 1024;
    std::string pending;
    std::vector<char> storage(kBufferSize);
    char* buffer = storage.data();
    while (true) {
        ssize_t n = ::read(fd, buffer, kBufferSize);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        const bool drained = static_cast<std::size_t>(n) < kBufferSize / 2;
        pending.append(buffer, static_cast<std::size_t>(n));
        std::size_t start = 0;
        while (true) {
            auto newline = pending.find('\n', start);
            if (newline == std::string::npos) break;
            std::string line = pending.substr(start, newline - start);
            start = newline + 1;
            if (output.port.load(std::memory_order_relaxed) == 0)
                if (auto port = announced_port(line))
                    output.port.store(*port, std::memory_order_release);
            output.on_line(std::move(line));
        }
        pending.erase(0, start);
        if (pending.size() > kMaxLine) {
            output.on_line(pending.substr(0, kMaxLine));
            pending.clear();
        }
        if (drained && output.port.load(std::memory_order_relaxed) != 0)
            std::this_thread::sleep_for(kBatchPause);
    }
    if (!pending.empty()) output.on_line(std::move(pending));
    ::close(fd);
}

}  // namespace faas::gateway
