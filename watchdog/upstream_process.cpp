// Supervising the http-mode upstream process.
#include "upstream_process.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/group.hpp>

#include "log.h"

namespace bp = boost::process;

namespace faas::watchdog {
namespace {

constexpr auto kProbeInterval = std::chrono::milliseconds(20);
constexpr auto kExitPollInterval = std::chrono::milliseconds(50);
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kStableRun = std::chrono::seconds(10);
constexpr auto kTerminateGrace = std::chrono::seconds(2);

// The watchdog ignores SIGPIPE and blocks SIGTERM in its threads; a child must not inherit
// either across exec, or it would neither die on a broken pipe nor on `docker stop`.
struct ResetSignals : bp::extend::handler {
    template <typename Executor>
    void on_exec_setup(Executor&) const {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        // If the watchdog is killed outright, the warm process must not live on as an orphan.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
};

}  // namespace

bool can_connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &result) != 0)
        return false;
    bool connected = false;
    for (addrinfo* ai = result; ai && !connected; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0) {
            connected = true;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
                int error = 0;
                socklen_t len = sizeof error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
                connected = error == 0;
            }
        }
        ::close(fd);
    }
    ::freeaddrinfo(result);
    return connected;
}

UpstreamProcess::UpstreamProcess(const Config& config, std::vector<std::string> base_env)
    : config_(config), base_env_(std::move(base_env)) {}

UpstreamProcess::~UpstreamProcess() {
    stop();
}

void UpstreamProcess::start() {
    thread_ = std::thread([this] { supervise(); });
}

void UpstreamProcess::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool UpstreamProcess::wait_or_stop(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void UpstreamProcess::supervise() {
    auto backoff = kMinBackoff;
    bp::environment env;
    for (const auto& entry : base_env_) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        // set(), not operator[]: Boost 1.74's find() compares the whole key against shorter
        // entries and reads past them (ASan: heap-buffer-overflow).
        env.set(entry.substr(0, eq), entry.substr(eq + 1));
    }
    std::vector<std::string> args(config_.argv.begin() + 1, config_.argv.end());

    while (true) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
        }
        auto started = std::chrono::steady_clock::now();
        bp::group group;
        std::error_code error;
        bp::child child(bp::exe = config_.argv[0], bp::args = args, bp::env = env, group,
                        ResetSignals{}, error);
        if (error) {
            faas::log_line("Failed to start upstream process: " + error.message());
        } else {
            starts_.fetch_add(1);
            faas::log_line("Started upstream process " + config_.fprocess + " (pid " +
                           std::to_string(child.id()) + ")");
            bool stop_requested = false;
            while (!stop_requested && child.running(error)) {
                if (!ready_ && can_connect(config_.upstream.host, config_.upstream.port,
                                           std::chrono::milliseconds(200))) {
                    ready_ = true;
                    faas::log_line("Upstream " + config_.upstream_url +
                                   " is accepting connections");
                }
                stop_requested = wait_or_stop(ready_ ? kExitPollInterval : kProbeInterval);
            }
            ready_ = false;
            if (stop_requested) {
                ::kill(-child.id(), SIGTERM);
                auto deadline = std::chrono::steady_clock::now() + kTerminateGrace;
                while (child.running(error) && std::chrono::steady_clock::now() < deadline)
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                group.terminate(error);
                child.wait(error);
                return;
            }
            group.terminate(error);  // Anything the dead process left in its group.
            child.wait(error);
            faas::log_line("Upstream process exited with code " +
                           std::to_string(child.exit_code()) + "; restarting in " +
                           std::to_string(backoff.count()) + "ms");
        }
        if (std::chrono::steady_clock::now() - started >= kStableRun) backoff = kMinBackoff;
        if (wait_or_stop(backoff)) return;
        backoff = std::min(backoff * 2,
                           std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
    }
}

}  // namespace faas::watchdog
