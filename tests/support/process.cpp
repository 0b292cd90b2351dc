// Spawning and inspecting real processes for integration tests.
#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace faas::test {
namespace fs = std::filesystem;

namespace {
// A test is a client: a server that answers early and closes (413, 429, ...) must show up as a
// failed write, not kill the test process with SIGPIPE (cpp-httplib's client sends without
// MSG_NOSIGNAL).
const bool kSigpipeIgnored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();
}  // namespace

TestProcess::TestProcess(std::vector<std::string> argv, std::map<std::string, std::string> env) {
    if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    if (!env.count("TMPDIR")) env["TMPDIR"] = fs::temp_directory_path().string();
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
        if (const char* value = std::getenv(name); value && !env.count(name)) env[name] = value;
    char log_template[] = "/tmp/faas-test-output-XXXXXX";
    int log_fd = ::mkstemp(log_template);
    if (log_fd < 0) throw std::runtime_error("mkstemp failed");
    log_path_ = log_template;

    std::vector<std::string> env_strings;
    for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group, so the test can kill everything it started.
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(log_fd);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
}

TestProcess::~TestProcess() {
    if (pid_ > 0 && !exit_code_) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    } else if (pid_ > 0) {
        ::kill(-pid_, SIGKILL);  // Leftovers of the group, if any.
    }
    std::error_code ignored;
    fs::remove(log_path_, ignored);
}

std::string TestProcess::output() const {
    std::ifstream in(log_path_);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void TestProcess::signal(int sig) const {
    ::kill(pid_, sig);
}

std::optional<int> TestProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool TestProcess::running() {
    return !wait_exit(std::chrono::milliseconds(0)).has_value();
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "faas-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

namespace {

struct ProcInfo {
    pid_t ppid = 0;
    char state = '?';
};

std::optional<ProcInfo> read_stat(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(close_paren + 2));
    ProcInfo info;
    rest >> info.state >> info.ppid;
    return info;
}

std::map<pid_t, ProcInfo> all_processes() {
    std::map<pid_t, ProcInfo> result;
    for (auto& entry : fs::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t pid = std::stoi(name);
        if (auto info = read_stat(pid)) result[pid] = *info;
    }
    return result;
}

}  // namespace

std::vector<pid_t> descendants_of(pid_t ancestor) {
    auto procs = all_processes();
    std::vector<pid_t> result;
    for (auto& [pid, info] : procs) {
        pid_t p = info.ppid;
        for (int depth = 0; depth < 64 && p > 1; ++depth) {
            if (p == ancestor) {
                if (info.state != 'Z') result.push_back(pid);
                break;
            }
            auto it = procs.find(p);
            if (it == procs.end()) break;
            p = it->second.ppid;
        }
    }
    return result;
}

std::vector<pid_t> processes_matching(const std::string& needle) {
    std::vector<pid_t> result;
    for (auto& [pid, info] : all_processes()) {
        if (info.state == 'Z') continue;
        std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (auto& c : cmdline)
            if (c == '\0') c = ' ';
        if (cmdline.find(needle) != std::string::npos && pid != ::getpid()) result.push_back(pid);
    }
    return result;
}

long rss_kib(pid_t pid) {
    return proc_status_kib(pid, "VmRSS");
}

int zombie_children(pid_t pid) {
    int count = 0;
    for (auto& [child, info] : all_processes())
        if (info.ppid == pid && info.state == 'Z') ++count;
    return count;
}

long proc_status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    return -1;
}

}  // namespace faas::test
