// posix_spawnp with pipes, a poll loop that feeds stdin, splits output into lines and asks
// keep_going, and a guard that kills the child's process group and reaps it on every way out.
#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

extern char** environ;

namespace faas {
namespace {

/// What is read from the output pipe after the child has exited (a pipe holds 64 KiB).
constexpr size_t kMaxDrainBytes = 1024 * 1024;

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.release();
        }
        return *this;
    }
    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

struct Pipe {
    Fd read;
    Fd write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        const int error = errno;
        throw SpawnError(std::string("cannot create a pipe: ") + std::strerror(error), error);
    }
    return {Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Owns the spawn attribute objects for the duration of one posix_spawn call.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

/// A started child: until reaped, the destructor kills its whole group and waits for it.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    ~Child() {
        if (!reaped_) {
            ::kill(-pid_, SIGKILL);
            wait();
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    /// SIGKILL to the group; safe while the child is unreaped (its pid cannot be reused).
    void kill_group() const {
        if (!reaped_) ::kill(-pid_, SIGKILL);
    }
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0) {
            if (errno != EINTR) {
                reaped_ = true;
                return 255;
            }
        }
        reaped_ = true;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return 255;
    }

  private:
    pid_t pid_;
    bool reaped_ = false;
};

/// Writes to a pipe whose reader may be gone without SIGPIPE killing this process: the signal is
/// blocked in this thread for the write and a pending one is consumed.
ssize_t write_without_sigpipe(int fd, const char* data, size_t size) {
    sigset_t pipe_only, old_mask;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
    const ssize_t written = ::write(fd, data, size);
    const int saved = errno;
    if (written < 0 && saved == EPIPE) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_only, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    errno = saved;
    return written;
}

/// Splits a byte stream into lines: "\n", "\r\n" and a lone "\r" (progress redraws) end a line.
class LineSplitter {
  public:
    LineSplitter(const std::function<void(std::string_view)>& on_line, std::string& captured)
        : on_line_(on_line), captured_(captured) {}

    void feed(std::string_view data) {
        if (!on_line_) {
            const size_t room = kMaxCapturedOutput - std::min(captured_.size(), kMaxCapturedOutput);
            captured_.append(data.substr(0, room));
            return;
        }
        for (char c : data) {
            if (c == '\n' && after_cr_) {
                after_cr_ = false;
                continue;
            }
            after_cr_ = c == '\r';
            if (c == '\n' || c == '\r') {
                emit();
                continue;
            }
            line_ += c;
            if (line_.size() >= kMaxLineLength) emit();
        }
    }

    void finish() {
        if (on_line_ && !line_.empty()) emit();
    }

  private:
    void emit() {
        on_line_(line_);
        line_.clear();
    }

    const std::function<void(std::string_view)>& on_line_;
    std::string& captured_;
    std::string line_;
    bool after_cr_ = false;
};

std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides,
                                           bool inherit) {
    std::vector<std::string> env;
    for (char** entry = inherit ? environ : nullptr; entry && *entry; ++entry) {
        const std::string_view text(*entry);
        const std::string name(text.substr(0, text.find('=')));
        if (!overrides.count(name)) env.emplace_back(text);
    }
    for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
    return env;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty() || argv[0].empty())
        throw std::invalid_argument("run_process: no program given");
    Pipe output = make_pipe();
    std::optional<Pipe> input;
    if (options.stdin_text) input = make_pipe();

    SpawnSetup setup;
    if (input)
        posix_spawn_file_actions_adddup2(&setup.actions, input->read.get(), STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, output.write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, output.write.get(), STDERR_FILENO);
    if (!options.working_dir.empty())
        posix_spawn_file_actions_addchdir_np(&setup.actions, options.working_dir.c_str());

    // Default dispositions and an empty mask (whatever this process blocks or ignores), and a
    // group of its own so that everything it starts can be killed together.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    posix_spawnattr_setsigmask(&setup.attr, &empty);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setflags(
        &setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings =
        child_environment(options.environment, options.inherit_environment);
    std::vector<char*> env;
    for (auto& entry : env_strings) env.push_back(entry.data());
    env.push_back(nullptr);

    pid_t pid = -1;
    const int rc =
        ::posix_spawnp(&pid, argv[0].c_str(), &setup.actions, &setup.attr, args.data(), env.data());
    if (rc != 0) {
        throw SpawnError("cannot run " + argv[0] + ": " +
                             (rc == ENOENT ? std::string("not found on PATH") : std::strerror(rc)),
                         rc);
    }
    Child child(pid);
    output.write.reset();
    Fd out = std::move(output.read);
    set_nonblocking(out.get());
    Fd in;
    if (input) {
        input->read.reset();
        in = std::move(input->write);
        set_nonblocking(in.get());
    }
    // Readable once the child has exited: the loop stops then even if something it started still
    // holds the output pipe open. Without pidfds (old kernels) the loop polls waitpid instead.
    Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

    ProcessResult result;
    LineSplitter splitter(options.on_line, result.output);
    const std::string_view stdin_text =
        options.stdin_text ? std::string_view(*options.stdin_text) : "";
    size_t stdin_written = 0;
    if (in.get() >= 0 && stdin_text.empty()) in.reset();

    std::array<char, 16384> buffer{};
    using Clock = std::chrono::steady_clock;
    const auto poll_interval = std::chrono::milliseconds(kKeepGoingPollMs);
    auto next_ask = Clock::now() + poll_interval;
    while (out.get() >= 0) {
        // Asked on a clock rather than once a loop: a chatty child must not make it a hot path,
        // and a quiet one must not keep the question from being asked.
        if (options.keep_going && Clock::now() >= next_ask) {
            if (!options.keep_going()) {
                result.stopped = true;
                child.kill_group();
                break;
            }
            next_ask = Clock::now() + poll_interval;
        }
        std::array<pollfd, 3> fds{};
        nfds_t count = 0;
        fds[count++] = {out.get(), POLLIN, 0};
        const nfds_t in_index = in.get() >= 0 ? count++ : 0;
        if (in.get() >= 0) fds[in_index] = {in.get(), POLLOUT, 0};
        const nfds_t exit_index = exited.get() >= 0 ? count++ : 0;
        if (exit_index) fds[exit_index] = {exited.get(), POLLIN, 0};
        int timeout_ms = exited.get() >= 0 ? -1 : 200;  // Without a pidfd, waitid is polled.
        if (options.keep_going) {
            const auto until_ask =
                std::chrono::duration_cast<std::chrono::milliseconds>(next_ask - Clock::now());
            const int ask_ms = static_cast<int>(std::max<long long>(0, until_ask.count()));
            timeout_ms = timeout_ms < 0 ? ask_ms : std::min(timeout_ms, ask_ms);
        }
        const int ready = ::poll(fds.data(), count, timeout_ms);
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (in_index && fds[in_index].revents) {
            const ssize_t n = write_without_sigpipe(in.get(), stdin_text.data() + stdin_written,
                                                    stdin_text.size() - stdin_written);
            if (n > 0) stdin_written += static_cast<size_t>(n);
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || stdin_written == stdin_text.size())
                in.reset();
        }
        if (fds[0].revents) {
            const ssize_t n = ::read(out.get(), buffer.data(), buffer.size());
            if (n > 0) {
                splitter.feed(std::string_view(buffer.data(), static_cast<size_t>(n)));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;
        }
        const bool pidfd_says_exited = exit_index && fds[exit_index].revents;
        siginfo_t info{};
        const bool poll_says_exited =
            exited.get() < 0 &&
            ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid;
        if (pidfd_says_exited || poll_says_exited) {
            // Stop whoever else holds the pipe, then take what is already in it; bounded, in
            // case a writer that left the group keeps filling it.
            child.kill_group();
            for (size_t drained = 0; drained < kMaxDrainBytes;) {
                const ssize_t n = ::read(out.get(), buffer.data(), buffer.size());
                if (n <= 0) break;
                drained += static_cast<size_t>(n);
                splitter.feed(std::string_view(buffer.data(), static_cast<size_t>(n)));
            }
            break;
        }
    }
    splitter.finish();
    in.reset();
    out.reset();
    result.exit_code = child.wait();
    return result;
}

}  // namespace faas
