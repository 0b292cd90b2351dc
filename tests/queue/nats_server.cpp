// Running nats-server for the queue's integration tests.
#include "nats_server.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>

#include "support/wait.h"

namespace faas::test {

std::string find_nats_server() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/nats-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

NatsServer::NatsServer(std::string store_dir, int port)
    : store_dir_(std::move(store_dir)), port_(port ? port : free_port()) {
    start();
}

NatsServer::~NatsServer() = default;  // TestProcess kills it.

void NatsServer::start() {
    const std::string binary = find_nats_server();
    REQUIRE_MESSAGE(!binary.empty(),
                    "nats-server is not installed (not in PATH): scripts/install-deps.sh "
                    "installs it (Debian package nats-server)");
    process_ = std::make_unique<TestProcess>(
        std::vector<std::string>{binary, "-a", "127.0.0.1", "-p", std::to_string(port_), "-js",
                                 "-sd", store_dir_},
        std::map<std::string, std::string>{});
    const bool ready =
        wait_until([&] { return process_->output().find("Server is ready") != std::string::npos; },
                   std::chrono::seconds(10));
    REQUIRE_MESSAGE(ready, "nats-server did not start: " << process_->output());
}

void NatsServer::stop(int signal) {
    if (!process_) return;
    process_->signal(signal);
    if (!process_->wait_exit(std::chrono::seconds(10))) {
        process_->signal(SIGKILL);
        process_->wait_exit(std::chrono::seconds(5));
    }
    process_.reset();
}

}  // namespace faas::test
