// Stop signals through sigwait.
#include "stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>

namespace faas {
namespace {

sigset_t stop_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

StopSignals::StopSignals() {
    sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int StopSignals::wait() const {
    sigset_t set = stop_set();
    int received = 0;
    // sigwait fails only for an invalid set, which would be a bug here, not a runtime condition.
    if (sigwait(&set, &received) != 0) std::abort();
    return received;
}

const char* StopSignals::name(int signal) {
    switch (signal) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        default:
            return "another signal";
    }
}

}  // namespace faas
