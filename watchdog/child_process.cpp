// posix_spawn-based child processes with RAII cleanup of the whole process group.
#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>

namespace faas::watchdog {
namespace {

std::mutex g_live_mutex;
std::set<pid_t> g_live;  // Children spawned and not yet reaped.

void track(pid_t pid, bool live) {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    if (live)
        g_live.insert(pid);
    else
        g_live.erase(pid);
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

ExitStatus decode(int status) {
    ExitStatus result;
    if (WIFEXITED(status)) {
        result.exited = true;
        result.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
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
};

struct Pipe {
    int read = -1;
    int write = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw SpawnError(std::string("cannot create a pipe: ") + std::strerror(errno));
        read = fds[0];
        write = fds[1];
    }
    ~Pipe() {
        close_fd(read);
        close_fd(write);
    }
};

}  // namespace

std::string ExitStatus::describe() const {
    if (exited) return "exit status " + std::to_string(code);
    std::string name =
        signal == SIGKILL ? "killed" : (::strsignal(signal) ? ::strsignal(signal) : "?");
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "signal: " + name;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& envp, bool merge_stderr) {
    Pipe in, out;
    std::optional<Pipe> err;
    if (!merge_stderr) err.emplace();

    SpawnSetup setup;
    posix_spawn_file_actions_adddup2(&setup.actions, in.read, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, out.write, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err ? err->write : out.write, STDERR_FILENO);

    // The child gets default dispositions and an empty mask: the watchdog ignores SIGPIPE and
    // blocks SIGTERM in its threads, and both would otherwise be inherited across exec.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    posix_spawnattr_setsigmask(&setup.attr, &empty);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    env.reserve(envp.size() + 1);
    for (const auto& e : envp) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);

    int rc = ::posix_spawn(&pid_, args[0], &setup.actions, &setup.attr, args.data(), env.data());
    if (rc != 0) throw SpawnError("cannot start " + argv[0] + ": " + std::strerror(rc));

    track(pid_, true);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    std::swap(stdin_fd_, in.write);
    std::swap(stdout_fd_, out.read);
    if (err) std::swap(stderr_fd_, err->read);
    for (int fd : {stdin_fd_, stdout_fd_, stderr_fd_})
        if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
    if (!status_) {
        kill_group();
        reap();
    }
    close_fd(pidfd_);
}

void ChildProcess::close_stdin() {
    close_fd(stdin_fd_);
}
void ChildProcess::close_stdout() {
    close_fd(stdout_fd_);
}
void ChildProcess::close_stderr() {
    close_fd(stderr_fd_);
}

void ChildProcess::kill_group() {
    // Until reaped the child's pid (its group id) cannot be reused, so this hits only its group.
    if (!status_) ::kill(-pid_, SIGKILL);
}

std::optional<ExitStatus> ChildProcess::try_reap() {
    if (status_) return status_;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = decode(status);
        track(pid_, false);
    }
    return status_;
}

ExitStatus ChildProcess::reap() {
    while (!status_) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, 0);
        if (r == pid_)
            status_ = decode(status);
        else if (r < 0 && errno != EINTR)
            status_ = ExitStatus{};  // Already reaped elsewhere.
    }
    track(pid_, false);
    return *status_;
}

void ChildProcess::kill_all_groups() {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    for (pid_t pid : g_live) ::kill(-pid, SIGKILL);
}

}  // namespace faas::watchdog
