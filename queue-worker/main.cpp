// The queue worker program: read the settings, connect to NATS, make queued calls until
// SIGTERM or SIGINT, then finish the calls in flight and exit 0.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <thread>

#include "config.h"
#include "env.h"
#include "jetstream.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "settings.h"
#include "stop_signals.h"
#include "worker.h"

int main() {
    using namespace faas::queue_worker;
    ::signal(SIGPIPE, SIG_IGN);
    Config config;
    try {
        config = read_config(faas::OsEnv());
    } catch (const faas::ConfigError& e) {
        faas::log_line(std::string("Invalid configuration: ") + e.what());
        return faas::kConfigErrorExitCode;
    }
    faas::StopSignals stop_signals;  // Before any thread starts (the NATS client's too).
    faas::log_line(describe(config));

    WorkerMetrics metrics;
    MetricsServer metrics_server(metrics);
    if (config.metrics_port != 0) {
        if (!metrics_server.start("0.0.0.0", config.metrics_port)) {
            faas::log_line("Cannot listen on metrics_port " + std::to_string(config.metrics_port) +
                           " (set metrics_port=0 to serve no metrics)");
            return 1;
        }
        faas::log_line("Metrics listening on port: " + std::to_string(metrics_server.port()));
    }

    faas::queue::ConnectOptions options;
    options.url = config.nats_url;
    options.client_name = "faas-queue-worker";
    options.retry_in_background = true;  // It may start before NATS does.
    std::optional<faas::queue::JetStream> js;
    try {
        js = faas::queue::JetStream::connect(options);
    } catch (const faas::queue::QueueError& e) {
        faas::log_line(std::string("Cannot connect to NATS: ") + e.what());
        return 1;
    }

    Worker worker(config, std::move(*js), metrics);
    std::atomic<bool> finished{false};
    std::thread signals([&] {
        const int received = stop_signals.wait();
        if (finished) return;  // Our own signal, below.
        faas::log_line(std::string("Received ") + faas::StopSignals::name(received) +
                       ": finishing the calls in flight");
        worker.stop();
    });
    int code = 0;
    try {
        worker.run();
    } catch (const faas::queue::QueueError& e) {
        faas::log_line(std::string("Cannot set up the queue: ") + e.what());
        code = 1;
    }
    // run() also returns on failure; make sure the signal thread is released either way.
    finished = true;
    ::kill(::getpid(), SIGTERM);
    signals.join();
    faas::log_line("Stopped");
    return code;
}
