// Starts the real fwatchdog binary on free loopback ports with its own TMPDIR, and waits until
// it is healthy.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <string>

#include "support/process.h"
#include "support/wait.h"

namespace faas::test {

struct Watchdog {
    TempDir tmp;
    int port = free_port();
    int metrics_port = free_port();
    std::unique_ptr<TestProcess> process;

    explicit Watchdog(std::map<std::string, std::string> env, bool wait_healthy = true) {
        env.emplace("port", std::to_string(port));
        env.emplace("metrics_port", std::to_string(metrics_port));
        env.emplace("TMPDIR", tmp.path());
        env.emplace("healthcheck_interval", "0");
        process = std::make_unique<TestProcess>(std::vector<std::string>{FAAS_WATCHDOG_PATH}, env);
        if (wait_healthy) REQUIRE_MESSAGE(wait_for_http(port, "/_/health", 200), process->output());
    }

    httplib::Client client(int timeout_seconds = 10) const {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(timeout_seconds, 0);
        return c;
    }

    std::string lock_path() const { return tmp.path() + "/.lock"; }

    /// How many times the log says the watchdog forked.
    int forks() const {
        auto out = process->output();
        int count = 0;
        for (auto pos = out.find("Forking fprocess."); pos != std::string::npos;
             pos = out.find("Forking fprocess.", pos + 1))
            ++count;
        return count;
    }
};

}  // namespace faas::test
