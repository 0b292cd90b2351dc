// How asynchronous calls are queued on this gateway.
#include "async/make_async.h"

#include "settings.h"

namespace faas::gateway {

AsyncSetup make_async(const Config& config, FunctionProvider& provider) {
    AsyncSetup setup;
    if (!config.async_calls) {
        setup.description = "Asynchronous calls: off (async_calls=false)";
        return setup;
    }
    AsyncCallsOptions options;
    options.served_namespace = config.function_namespace;
    options.max_async_bytes = config.max_async_bytes;
    CallQueueOptions queue_options;
    queue_options.record_ttl = config.call_record_ttl;
    std::string url = config.nats_url;
    std::string missing;
    if (url.empty() && config.provider == ProviderKind::kLocal) {
        if (config.nats_server_path.empty())
            missing = "nats-server is not installed (apt-get install nats-server), or set nats_url";
        else if (config.queue_worker_path.empty())
            missing =
                "queue-worker was not found beside the gateway nor on PATH "
                "(set queue_worker_path), or set nats_url";
        if (missing.empty()) {
            LocalQueueOptions local;
            local.nats_server_path = config.nats_server_path;
            local.queue_worker_path = config.queue_worker_path;
            local.store_dir = config.state_dir + "/nats";
            local.nats_port = free_tcp_port();
            local.worker_environment = {
                {"call_record_ttl", format_duration(config.call_record_ttl)},
                {"max_async_bytes", std::to_string(config.max_async_bytes)},
                // Its own metrics endpoint would take a fixed port on this host; the gateway's
                // /metrics shows the queue.
                {"metrics_port", "0"},
            };
            setup.local = std::make_unique<LocalQueue>(std::move(local));
            url = setup.local->nats_url();
            options.on_queued = [local_queue = setup.local.get()](const std::string& queue) {
                local_queue->serve(queue);
            };
            queue_options.before_connect = [local_queue = setup.local.get()] {
                if (!local_queue->start())
                    throw queue::QueueUnavailable(
                        "nats-server did not start within 5 s (see "
                        "the gateway's log)");
            };
        }
    } else if (url.empty()) {
        missing = "set nats_url to the stack's NATS (nats://nats:4222)";
    }
    if (!missing.empty()) {
        setup.calls = std::make_unique<AsyncCalls>(provider, nullptr, missing, options);
        setup.description = "Asynchronous calls: unavailable, " + missing;
        if (config.record_sync_calls)
            setup.description += "; record_calls=all records nothing without the queue";
        return setup;
    }
    queue_options.nats_url = url;
    queue_options.record_sync = config.record_sync_calls;
    queue_options.sync_records_kept = config.sync_records_kept;
    auto call_queue = std::make_unique<CallQueue>(std::move(queue_options));
    if (config.record_sync_calls)
        setup.recorder = std::make_unique<CallRecorder>(
            [queue = call_queue.get()](const std::vector<queue::CallRecord>& records) {
                return queue->store_sync_records(records);
            });
    QueueMetricsOptions metrics_options;
    metrics_options.nats_url = url;
    if (setup.local)
        metrics_options.ready = [local_queue = setup.local.get()] {
            return local_queue->started();
        };
    setup.queue_metrics = std::make_unique<QueueMetrics>(std::move(metrics_options));
    setup.calls = std::make_unique<AsyncCalls>(provider, std::move(call_queue), "", options);
    setup.description = "Asynchronous calls: queued on " + url +
                        (setup.local ? " (nats-server and a queue worker are started here on the "
                                       "first asynchronous call, store in " +
                                           config.state_dir + "/nats)"
                                     : "");
    if (config.record_sync_calls)
        setup.description += "; synchronous calls recorded too (record_calls=all, the newest " +
                             std::to_string(config.sync_records_kept) + " kept)";
    return setup;
}

}  // namespace faas::gateway
