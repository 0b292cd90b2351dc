// fwatchdog as a container's PID 1: function images run it with no init, so every orphan in the
// container (a timed-out function's background children, once their shell is killed) becomes
// its child. This makes PID 1 a tiny init, as tini and `docker --init` do, and runs the watchdog
// as its child, so the init's waitpid(-1) never races the watchdog's per-request waitpid(pid).
#pragma once

#include <optional>

namespace faas::watchdog {

/// When the calling process is PID 1, forks. The parent stays the namespace's init: it reaps
/// every child, forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the watchdog, and, once the
/// watchdog has exited, returns its exit code (128+N for signal N) for main to return. The child
/// gets nullopt and carries on as the watchdog, with SIGTERM and SIGINT still blocked (for
/// StopSignals). When not PID 1, returns nullopt at once. Call before any thread is started.
std::optional<int> run_init_reaper_if_pid1();

}  // namespace faas::watchdog
