// The PID 1 reaper.
#include "init_reaper.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "log.h"

namespace faas::watchdog {
namespace {

constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

// Reaps every child that has exited; true once `watchdog` is among them (its code in `code`).
bool reap_all(pid_t watchdog, int& code) {
    bool watchdog_done = false;
    // Each round reaps one process; a namespace cannot hold more than pid_max of them.
    for (int round = 0; round < 4 * 1024 * 1024; ++round) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid == 0) break;  // Children left, none exited.
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;  // ECHILD: no children at all.
        }
        if (pid == watchdog) {
            watchdog_done = true;
            code = exit_code_of(status);
        }
    }
    return watchdog_done;
}

int serve_as_init(pid_t watchdog, const sigset_t& waited) {
    // Poll at least this often, so a SIGCHLD merged with another can never leave a zombie for
    // long (pending signals of one kind coalesce).
    const timespec kRecheck{1, 0};
    int code = 1;
    while (true) {
        siginfo_t info{};
        int sig = ::sigtimedwait(&waited, &info, &kRecheck);
        for (int forwarded : kForwarded)
            if (sig == forwarded) ::kill(watchdog, sig);
        // Whatever else still runs in the namespace once the watchdog is gone is killed by
        // the kernel when PID 1 exits: nothing is left behind.
        if (reap_all(watchdog, code)) return code;
    }
}

}  // namespace

std::optional<int> run_init_reaper_if_pid1() {
    if (::getpid() != 1) return std::nullopt;

    // Block what the init waits for before forking, so nothing arrives between the fork and
    // the wait. The child starts from the same mask and unblocks all but the stop signals.
    sigset_t waited;
    sigemptyset(&waited);
    for (int sig : kForwarded) sigaddset(&waited, sig);
    sigaddset(&waited, SIGCHLD);
    sigset_t original;
    ::sigprocmask(SIG_BLOCK, &waited, &original);

    pid_t watchdog = ::fork();
    if (watchdog < 0) {
        // Without the fork the watchdog still works; it just cannot reap orphans.
        faas::log_line(std::string("fwatchdog: cannot fork an init (") + std::strerror(errno) +
                       "); orphans will not be reaped");
        ::sigprocmask(SIG_SETMASK, &original, nullptr);
        return std::nullopt;
    }
    if (watchdog == 0) {
        sigset_t keep = original;
        sigaddset(&keep, SIGTERM);
        sigaddset(&keep, SIGINT);
        ::sigprocmask(SIG_SETMASK, &keep, nullptr);
        // The init is PID 1: if it dies, the kernel ends the namespace and us with it.
        return std::nullopt;
    }
    faas::log_line("fwatchdog is PID 1: an init reaps orphans; the watchdog runs as pid " +
                   std::to_string(watchdog));
    return serve_as_init(watchdog, waited);
}

}  // namespace faas::watchdog
