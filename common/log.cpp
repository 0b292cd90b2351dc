// Timestamped, thread-safe log lines.
#include "log.h"

#include <unistd.h>

#include <ctime>
#include <string>

namespace faas {

void log_line(std::string_view message) {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::size_t n = std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S ", &local);
    std::string line;
    line.reserve(n + message.size() + 1);
    line.append(stamp, n).append(message);
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t written = ::write(STDERR_FILENO, data, left);
        if (written <= 0) return;  // Nowhere left to report a logging failure.
        data += written;
        left -= static_cast<std::size_t>(written);
    }
}

}  // namespace faas
