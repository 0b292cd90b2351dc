// The gateway's HTTP path (routing, proxy, balancer, metrics) in front of a fixed upstream, for
// benchmarks whose upstream is not an fwatchdog the local provider could start (nginx
// `return 200`). It plugs a static provider into the same FunctionProvider interface.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "async/call_queue.h"
#include "async/call_recorder.h"
#include "config.h"
#include "env.h"
#include "log.h"
#include "server.h"
#include "settings.h"

namespace {

using namespace faas::gateway;

class StaticProvider final : public FunctionProvider {
  public:
    StaticProvider(std::string name, std::vector<Endpoint> endpoints)
        : name_(std::move(name)), endpoints_(std::move(endpoints)) {}
    ProviderInfo info() const override { return {"static-bench", "none"}; }
    std::vector<FunctionRecord> list() override { return {*get(name_)}; }
    std::optional<FunctionRecord> get(const std::string& name) override {
        if (name != name_) return std::nullopt;
        FunctionRecord record;
        record.deployment.service = name_;
        record.deployment.image = "static";
        record.deployment.raw = {{"service", name_}, {"image", "static"}};
        record.replicas = record.available_replicas = static_cast<int>(endpoints_.size());
        return record;
    }
    void deploy(const FunctionDeployment&) override { throw BadRequest("static provider"); }
    void update(const FunctionDeployment&) override { throw BadRequest("static provider"); }
    void scale(const std::string&, int) override { throw BadRequest("static provider"); }
    void remove(const std::string&) override { throw BadRequest("static provider"); }
    Resolution resolve(const std::string& name) override {
        if (name != name_) return {};
        return Resolution{true, endpoints_, {}};
    }
    std::unique_ptr<LogStream> logs(const LogQuery&) override {
        throw BadRequest("static provider");
    }
    std::vector<std::string> list_secrets() override { return {}; }
    void create_secret(const std::string&, const std::string&) override {
        throw BadRequest("static");
    }
    void update_secret(const std::string&, const std::string&) override {
        throw BadRequest("static");
    }
    void remove_secret(const std::string&) override { throw BadRequest("static"); }
    void shutdown() override {}

  private:
    std::string name_;
    std::vector<Endpoint> endpoints_;
};

}  // namespace

// env: port, bench_upstream_port (on 127.0.0.1); the function is called "bench". With nats_url
// set, every call is recorded there as record_calls=all does.
int main() {
    limit_malloc_arenas();
    ::signal(SIGPIPE, SIG_IGN);
    faas::OsEnv env;
    int upstream_port = faas::get_port(env, "bench_upstream_port", 0);
    faas::MapEnv settings({{"port", faas::get_string(env, "port", "8080")},
                           {"provider", "swarm"},  // skips the local provider's watchdog lookup
                           {"upstream_timeout", "30s"}});
    Config config = read_config(settings);
    StaticProvider provider("bench", {Endpoint{"127.0.0.1", upstream_port}});
    // Made before the server, so they outlive it.
    std::unique_ptr<CallQueue> call_queue;
    std::unique_ptr<CallRecorder> recorder;
    if (auto nats_url = faas::get_string(env, "nats_url", ""); !nats_url.empty()) {
        CallQueueOptions options;
        options.nats_url = nats_url;
        options.record_sync = true;
        call_queue = std::make_unique<CallQueue>(std::move(options));
        recorder = std::make_unique<CallRecorder>(
            [queue = call_queue.get()](const std::vector<faas::queue::CallRecord>& records) {
                return queue->store_sync_records(records);
            });
    }
    GatewayServer server(config, provider, std::nullopt);
    if (recorder) server.record_calls(*recorder);
    int port = server.bind("127.0.0.1", config.port);
    if (port < 0) return 1;
    faas::log_line("Listening on port: " + std::to_string(port));
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    std::thread signals([&] {
        int received = 0;
        sigwait(&stop, &received);
        server.drain_and_stop(std::chrono::seconds(5));
    });
    server.listen();
    ::kill(::getpid(), SIGTERM);
    signals.join();
    return 0;
}
