// Line logging in the format of Go's log package ("2006/01/02 15:04:05 message"), which the
// OpenFaaS tooling that greps watchdog and gateway logs expects.
#pragma once

#include <string_view>

namespace faas {

/// Writes one timestamped line to stderr with a single write(2), so lines from concurrent
/// threads never interleave.
void log_line(std::string_view message);

}  // namespace faas
