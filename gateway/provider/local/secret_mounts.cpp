// Per-replica mount namespaces for secrets.
#include "provider/local/secret_mounts.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace faas::gateway {

bool bind_read_only(const char* source, const char* target) noexcept {
    // Private first, so that neither the bind nor anything mounted later reaches the host.
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount(source, target, nullptr, MS_BIND, nullptr) == 0 &&
           ::mount(nullptr, target, nullptr,
                   MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   nullptr) == 0;
}

namespace {

struct Answer {
    bool available = false;
    std::string why;
};

Answer probe() {
    if (::geteuid() != 0) return {false, "the gateway does not run as root"};
    std::error_code ec;
    std::filesystem::create_directories(kFunctionSecretsPath, ec);
    if (ec)
        return {false, std::string("cannot create ") + kFunctionSecretsPath + ": " + ec.message()};
    // The only way to know is to try, in a child that then exits: mounts end with it.
    const pid_t pid = ::fork();
    if (pid < 0) return {false, std::string("fork: ") + std::strerror(errno)};
    if (pid == 0) ::_exit(bind_read_only(kFunctionSecretsPath, kFunctionSecretsPath) ? 0 : errno);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, {}};
    const int error = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    return {false, std::string("a mount namespace could not be made") +
                       (error != 0 ? std::string(": ") + std::strerror(error) : std::string())};
}

}  // namespace

bool secret_mounts_available(std::string* why) {
    static std::once_flag once;
    static Answer answer;
    std::call_once(once, [] { answer = probe(); });
    if (why != nullptr) *why = answer.why;
    return answer.available;
}

}  // namespace faas::gateway
