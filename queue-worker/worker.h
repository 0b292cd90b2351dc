// The worker: sets up the queue (waiting for NATS if it is not up yet), then fetches calls only
// while one of its max_inflight threads is free to make them, so no fetched call waits here
// while its ack_wait runs. On stop it fetches no more and returns once calls in flight are done.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "config.h"
#include "jetstream.h"
#include "metrics.h"
#include "stop_flag.h"
#include "worker_setup.h"

namespace faas::queue_worker {

class Worker {
  public:
    /// `metrics` must outlive the worker.
    Worker(const Config& config, queue::JetStream js, WorkerMetrics& metrics);

    /// Runs until stop(). Throws QueueError when NATS refuses the queue's definitions.
    void run();
    /// From any thread (the signal thread): take no more calls; run() returns once the calls
    /// in flight are settled.
    void stop();

  private:
    /// Ensures the queue until it works or a stop comes; false on stop.
    bool set_up(std::optional<QueueHandles>& handles);

    const Config config_;
    queue::JetStream js_;
    WorkerMetrics& metrics_;
    StopFlag stop_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<queue::Delivery> ready_;  ///< Fetched, not yet taken by a thread. Guarded.
    int idle_ = 0;                       ///< Threads not handling a call. Guarded.
    bool done_ = false;                  ///< No more will be fetched. Guarded.
};

}  // namespace faas::queue_worker
