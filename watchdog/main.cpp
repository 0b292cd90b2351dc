// fwatchdog: reads its configuration, becomes an init when it is PID 1, handles signals and runs
// the server. Everything else lives in the library, where the tests can reach it.
#include <httplib.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "config.h"
#include "env.h"
#include "init_reaper.h"
#include "log.h"
#include "memory_budget.h"
#include "server.h"
#include "settings.h"
#include "stop_signals.h"

namespace {

// Docker HEALTHCHECK: asks the running watchdog's /_/health, which covers the lock file,
// draining and (in http mode) the upstream. Exit 0 healthy, 1 not.
int run_healthcheck(const faas::Env& env) {
    int port = 8080;
    try {
        port = faas::get_port(env, "port", 8080);
    } catch (const faas::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(std::chrono::seconds(2));
    client.set_read_timeout(std::chrono::seconds(3));
    auto res = client.Get("/_/health");
    return res && res->status == 200 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    faas::OsEnv env;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-run-healthcheck" || arg == "--run-healthcheck") return run_healthcheck(env);
        if (arg == "-version" || arg == "--version") {
            std::cout << "fwatchdog (faas) " << FAAS_VERSION << "\n";
            return 0;
        }
        std::cerr << "fwatchdog: unknown argument " << arg
                  << " (configure with environment variables; flags: -run-healthcheck, -version)\n";
        return faas::kConfigErrorExitCode;
    }

    faas::watchdog::Config config;
    try {
        config = faas::watchdog::read_config(env);
    } catch (const faas::ConfigError& e) {
        faas::log_line(std::string("fwatchdog: invalid configuration: ") + e.what());
        return faas::kConfigErrorExitCode;
    }

    // Before any thread: the init must fork a single-threaded process.
    if (auto init_exit_code = faas::watchdog::run_init_reaper_if_pid1()) return *init_exit_code;
    faas::tune_malloc_for_bursts();
    ::signal(SIGPIPE, SIG_IGN);
    faas::StopSignals stop_signals;  // Before the server's threads, which inherit the mask.

    faas::watchdog::WatchdogServer server(std::move(config));
    if (!server.start()) return 1;
    std::thread([&server, &stop_signals] {
        stop_signals.wait();
        server.request_drain();
    }).detach();
    server.run();
    return 0;
}
