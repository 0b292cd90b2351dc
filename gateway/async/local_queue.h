// The local provider's queue for asynchronous calls when no nats_url is set: nats-server with
// JetStream (its store in state_dir/nats) and a queue worker for the default queue, as child
// processes of the gateway, each restarted with backoff if it exits, all stopped with the
// gateway. Started on the first asynchronous call, or at once when the store holds calls from
// before. A named queue (com.openfaas.queue) gets a worker of its own on its first call, so a
// slow function cannot starve the others; the names are kept in the store, so a restart starts
// them again. Their output goes to the gateway's log, each line prefixed with the program's
// name.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace faas::gateway {

struct LocalQueueOptions {
    std::string nats_server_path;
    std::string queue_worker_path;
    std::string store_dir;  ///< JetStream's files.
    int nats_port = 0;      ///< On 127.0.0.1; chosen by the caller (free_tcp_port()).
    /// Settings handed to the queue worker (call_record_ttl, max_async_bytes, ...).
    std::map<std::string, std::string> worker_environment;
};

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
int free_tcp_port();

class LocalQueue {
  public:
    explicit LocalQueue(LocalQueueOptions options);
    ~LocalQueue();
    LocalQueue(const LocalQueue&) = delete;
    LocalQueue& operator=(const LocalQueue&) = delete;

    /// nats://127.0.0.1:<port>
    std::string nats_url() const;
    /// Where the worker calls the gateway (127.0.0.1:`port`); before start().
    void set_gateway_port(int port) { gateway_port_ = port; }
    /// Whether the store holds anything: calls queued before a restart need a worker now.
    bool has_store() const;
    /// Starts nats-server and the worker, once (later calls do nothing), and waits up to
    /// `ready_timeout` for nats-server to take connections. False if it did not.
    bool start(std::chrono::milliseconds ready_timeout = std::chrono::seconds(5));
    /// Whether start() has seen nats-server take connections.
    bool started() const { return started_ok_; }
    /// A worker for `queue` from now on (once; the default queue's starts with nats-server).
    /// After start(). At most kMaxNamedQueues named queues get one: past that it is logged.
    void serve(const std::string& queue);
    /// Stops all (SIGTERM to their process groups, as run_process does) and joins; idempotent.
    void stop();

    static constexpr std::size_t kMaxNamedQueues = 32;

  private:
    void launch();
    /// Starts `queue`'s worker; mutex_ held.
    void start_worker_locked(const std::string& queue);
    std::string named_queues_file() const;
    /// Runs `argv` until stop(), restarting it with backoff when it exits.
    void supervise(std::string name, std::vector<std::string> argv,
                   std::map<std::string, std::string> environment);

    const LocalQueueOptions options_;
    std::atomic<int> gateway_port_{0};
    std::once_flag started_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_ok_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::thread> threads_;
    std::set<std::string> served_;  ///< Queues with a worker; guarded by mutex_.
};

}  // namespace faas::gateway
