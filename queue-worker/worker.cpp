// The fetch loop and the threads that make the calls.
#include "worker.h"

#include <optional>
#include <thread>
#include <vector>

#include "call_handler.h"
#include "http_client.h"
#include "in_progress_ticker.h"
#include "log.h"
#include "queue_names.h"
#include "worker_setup.h"

namespace faas::queue_worker {
namespace {

constexpr std::chrono::milliseconds kFetchWait{1000};
constexpr std::chrono::milliseconds kPauseAfterError{1000};

}  // namespace

Worker::Worker(const Config& config, queue::JetStream js, WorkerMetrics& metrics)
    : config_(config), js_(std::move(js)), metrics_(metrics) {}

void Worker::stop() {
    stop_.request_stop();
    // Through the mutex: the fetch loop is either before its check of the flag or waiting.
    { std::lock_guard lock(mutex_); }
    changed_.notify_all();
}

bool Worker::set_up(std::optional<QueueHandles>& handles) {
    bool told = false;
    while (!stop_.stopping()) {
        try {
            handles =
                ensure_worker_queue(js_, config_.queue, config_.ack_wait, config_.call_record_ttl);
            return true;
        } catch (const queue::QueueUnavailable& e) {
            if (!told)
                log_line("Waiting for NATS at " + without_credentials(config_.nats_url) + ": " +
                         e.what());
            told = true;
        }
        stop_.wait_for(kPauseAfterError);
    }
    return false;
}

void Worker::run() {
    std::optional<QueueHandles> handles;
    if (!set_up(handles)) return;
    log_line("Taking calls from " + queue::call_subject(config_.queue) + " (consumer " +
             queue::worker_consumer(config_.queue) + ")");

    InProgressTicker ticker(config_.ack_wait / 3);
    CallHandler handler(config_, js_, handles->records, ticker, stop_, metrics_);
    {
        std::lock_guard lock(mutex_);
        idle_ = config_.max_inflight;
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < config_.max_inflight; ++i) {
        threads.emplace_back([this, &handler] {
            HttpClient client(config_.max_response_bytes);
            std::unique_lock lock(mutex_);
            while (true) {
                changed_.wait(lock, [this] { return !ready_.empty() || done_; });
                if (ready_.empty()) return;  // done_, and nothing left.
                queue::Delivery delivery = std::move(ready_.front());
                ready_.pop_front();
                --idle_;
                lock.unlock();
                try {
                    handler.handle(delivery, client);
                } catch (const std::exception& e) {
                    // Left unacknowledged: the server delivers it again after ack_wait.
                    log_line(std::string("Call not settled, it will be delivered again: ") +
                             e.what());
                }
                lock.lock();
                ++idle_;
                changed_.notify_all();
            }
        });
    }

    bool outage = false;
    while (!stop_.stopping()) {
        int free = 0;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [this] {
                return stop_.stopping() || idle_ > static_cast<int>(ready_.size());
            });
            if (stop_.stopping()) break;
            free = idle_ - static_cast<int>(ready_.size());
        }
        std::vector<queue::Delivery> fetched;
        try {
            fetched = handles->consumer.fetch(free, kFetchWait);
            if (outage) log_line("NATS is back: taking calls again");
            outage = false;
        } catch (const queue::QueueUnavailable& e) {
            if (!outage) log_line(std::string("Cannot take calls: ") + e.what());
            outage = true;
            stop_.wait_for(kPauseAfterError);
            continue;
        } catch (const queue::QueueError& e) {
            // E.g. the consumer was deleted: define it again.
            log_line(std::string("Cannot take calls: ") + e.what());
            stop_.wait_for(kPauseAfterError);
            try {
                handles->consumer =
                    js_.ensure_consumer(worker_consumer_config(config_.queue, config_.ack_wait));
            } catch (const queue::QueueError& again) {
                log_line(std::string("Cannot define the consumer again: ") + again.what());
            }
            continue;
        }
        if (fetched.empty()) continue;
        {
            std::lock_guard lock(mutex_);
            for (auto& delivery : fetched) ready_.push_back(std::move(delivery));
        }
        changed_.notify_all();
    }

    log_line("Stopping: no more calls taken; waiting for the calls in flight");
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    changed_.notify_all();
    for (auto& thread : threads) thread.join();
}

}  // namespace faas::queue_worker
