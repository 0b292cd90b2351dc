// The spawn floor for the watchdog benchmark: how many times per second this machine can
// posix_spawn `cat`, pipe a small body through it and reap it, with no HTTP at all. One loop
// per thread; usage: spawn_floor <threads> <seconds> [body]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

bool one_round(const std::string& body) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_USEVFORK);
    char* argv[] = {const_cast<char*>("/bin/cat"), nullptr};
    pid_t pid;
    int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) return false;
    ssize_t w = ::write(in[1], body.data(), body.size());
    ::close(in[1]);
    char buffer[4096];
    std::size_t got = 0;
    for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;)
        got += static_cast<std::size_t>(n);
    ::close(out[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return w == static_cast<ssize_t>(body.size()) && got == body.size();
}

}  // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    double seconds = argc > 2 ? std::atof(argv[2]) : 5;
    std::string body = argc > 3 ? argv[3] : "hello world";
    std::atomic<long> done{0}, failed{0};
    auto stop_at = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            while (std::chrono::steady_clock::now() < stop_at) (one_round(body) ? done : failed)++;
        });
    for (auto& t : pool) t.join();
    std::printf("%.1f\n", static_cast<double>(done.load()) / seconds);
    return failed.load() == 0 ? 0 : 1;
}
