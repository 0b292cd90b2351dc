// The signals that ask a server to stop (SIGTERM from `docker stop`, SIGINT from a terminal),
// taken by one waiting thread instead of an asynchronous handler, so reacting to them can lock,
// log and allocate like any other code.
#pragma once

namespace faas {

class StopSignals {
  public:
    /// Blocks SIGTERM and SIGINT in the calling thread. Construct it in main before any thread
    /// starts: threads inherit the mask, so no other thread can be interrupted by them. The
    /// mask stays after destruction, so a signal that arrives while the program winds down
    /// is not fatal.
    StopSignals();

    /// Waits until SIGTERM or SIGINT arrives and returns which one.
    int wait() const;

    /// "SIGTERM", "SIGINT", or "another signal" for any other number.
    static const char* name(int signal);
};

}  // namespace faas
