// nats-server and a queue worker as supervised children of the gateway.
#include "async/local_queue.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "call_message.h"
#include "log.h"
#include "queue_names.h"
#include "subprocess.h"

namespace faas::gateway {
namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
/// A child that ran this long before exiting starts again from the shortest backoff.
constexpr auto kStableRun = std::chrono::seconds(30);
constexpr const char* kSetpriv = "/usr/bin/setpriv";

bool accepts_connections(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool connected =
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

}  // namespace

int free_tcp_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
        port = ntohs(address.sin_port);
    ::close(fd);
    return port;
}

LocalQueue::LocalQueue(LocalQueueOptions options) : options_(std::move(options)) {}

LocalQueue::~LocalQueue() {
    stop();
}

std::string LocalQueue::nats_url() const {
    return "nats://127.0.0.1:" + std::to_string(options_.nats_port);
}

bool LocalQueue::has_store() const {
    std::error_code ec;
    return std::filesystem::is_directory(options_.store_dir, ec) &&
           !std::filesystem::is_empty(options_.store_dir, ec);
}

bool LocalQueue::start(std::chrono::milliseconds ready_timeout) {
    std::call_once(started_, [this] { launch(); });
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    while (!stopping_) {
        if (accepts_connections(options_.nats_port)) {
            started_ok_ = true;
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

void LocalQueue::launch() {
    std::error_code ec;
    std::filesystem::create_directories(options_.store_dir, ec);
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // the gateway is stopping: no thread that nobody would join
    log_line("Starting nats-server on " + nats_url() + " and a queue worker");
    threads_.emplace_back([this] {
        supervise("nats-server",
                  {options_.nats_server_path, "-js", "-a", "127.0.0.1", "-p",
                   std::to_string(options_.nats_port), "-sd", options_.store_dir},
                  {});
    });
    start_worker_locked(queue::kDefaultQueue);
    // Named queues served before a restart may hold calls: their workers start now too.
    std::ifstream known(named_queues_file());
    for (std::string name; std::getline(known, name) && served_.size() <= kMaxNamedQueues;)
        if (queue::is_valid_queue_name(name)) start_worker_locked(name);
}

void LocalQueue::start_worker_locked(const std::string& queue) {
    if (!served_.insert(queue).second) return;
    auto environment = options_.worker_environment;
    environment["nats_url"] = nats_url();
    environment["gateway_url"] = "http://127.0.0.1:" + std::to_string(gateway_port_.load());
    environment["queue"] = queue;
    std::string name = "queue-worker";
    if (queue != queue::kDefaultQueue) {
        name += " " + queue;
        log_line("Starting a queue worker for the queue " + queue);
    }
    threads_.emplace_back(
        [this, name, environment] { supervise(name, {options_.queue_worker_path}, environment); });
}

void LocalQueue::serve(const std::string& queue) {
    std::lock_guard lock(mutex_);
    if (stopping_ || served_.count(queue) != 0 || !queue::is_valid_queue_name(queue)) return;
    if (served_.size() > kMaxNamedQueues) {
        log_line("Not starting a worker for the queue " + queue + ": " +
                 std::to_string(kMaxNamedQueues) +
                 " named queues already have one here; its calls wait (set nats_url and run "
                 "queue-worker with queue=" +
                 queue + ")");
        served_.insert(queue);  // said once
        return;
    }
    start_worker_locked(queue);
    std::ofstream(named_queues_file(), std::ios::app) << queue << "\n";
}

std::string LocalQueue::named_queues_file() const {
    return options_.store_dir + "/faas-named-queues";
}

void LocalQueue::stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        threads.swap(threads_);
    }
    wake_.notify_all();
    for (auto& thread : threads)
        if (thread.joinable()) thread.join();
}

void LocalQueue::supervise(std::string name, std::vector<std::string> argv,
                           std::map<std::string, std::string> environment) {
    // A gateway killed outright (SIGKILL) must not leave nats-server and the worker running:
    // util-linux's setpriv sets the parent-death signal and execs the program (run_process
    // spawns, so it cannot set it itself).
    if (::access(kSetpriv, X_OK) == 0)
        argv.insert(argv.begin(), {kSetpriv, "--pdeathsig", "KILL", "--"});
    auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kMinBackoff);
    while (!stopping_) {
        const auto started = std::chrono::steady_clock::now();
        ProcessOptions options;
        options.environment = environment;
        options.on_line = [&name](std::string_view line) {
            log_line("[" + name + "] " + std::string(line));
        };
        options.keep_going = [this] { return !stopping_.load(); };
        std::string ended;
        try {
            auto result = run_process(argv, options);
            if (result.stopped) return;
            ended = "exited with " + std::to_string(result.exit_code);
        } catch (const SpawnError& e) {
            ended = std::string("could not start: ") + e.what();
        }
        if (std::chrono::steady_clock::now() - started >= kStableRun)
            backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kMinBackoff);
        log_line(name + " " + ended + "; starting it again in " + std::to_string(backoff.count()) +
                 " ms");
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, backoff, [this] { return stopping_.load(); });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
}

}  // namespace faas::gateway
