// A real EventServer on 127.0.0.1:0 with a small handler whose path picks how it answers: at
// once on the loop, later from another thread through loop.post (the way an upstream call
// answers), or on a worker thread, whole or streamed. Shared by the event-server tests.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "http/event_server.h"
#include "raw_client.h"
#include "support/wait.h"

namespace faas::test {

using namespace std::chrono_literals;
using gateway::EventServer;
using gateway::Exchange;
using gateway::Request;
using gateway::RequestHandler;
using gateway::ServerOptions;

// Runs tasks on another thread after a delay: stands in for an answer coming from elsewhere.
class Delayer {
  public:
    using Clock = std::chrono::steady_clock;

    Delayer() : thread_([this] { work(); }) {}
    ~Delayer() { stop(); }
    Delayer(const Delayer&) = delete;
    Delayer& operator=(const Delayer&) = delete;

    void after(std::chrono::milliseconds delay, std::function<void()> task) {
        std::lock_guard lock(mutex_);
        tasks_.emplace(Clock::now() + delay, std::move(task));
        wake_.notify_one();
    }
    /// Drops what has not run yet and joins the thread.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            tasks_.clear();
            wake_.notify_one();
        }
        if (thread_.joinable()) thread_.join();
    }

  private:
    void work() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (tasks_.empty()) {
                wake_.wait(lock);
                continue;
            }
            const auto first = tasks_.begin()->first;
            if (Clock::now() < first) {
                wake_.wait_until(lock, first);
                continue;
            }
            auto task = std::move(tasks_.begin()->second);
            tasks_.erase(tasks_.begin());
            lock.unlock();
            task();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::multimap<Clock::time_point, std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;
};

inline std::string query_value(std::string_view target, std::string_view key) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) return {};
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) == key)
            return equals == std::string_view::npos ? "" : std::string(pair.substr(equals + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

inline std::size_t query_number(std::string_view target, std::string_view key) {
    return std::strtoull(query_value(target, key).c_str(), nullptr, 10);
}

// The path picks the behaviour:
//   /later?ms=N     answered from another thread through loop.post after N ms
//   /worker         answered by respond_from_worker
//   /stream?n=N&piece=P   a worker streams N bytes of pattern(N) in pieces of P (&end_ms=M:
//                         and ends the stream M ms after its last write)
//   /204, /304, /close, /info, /big?n=N, /head-length
//   anything else   answered at once with the request body (or "served <target>")
class TestHandler final : public RequestHandler {
  public:
    void attach(EventServer& server) { server_ = &server; }
    void stop() { delayer_.stop(); }

    void serve(Exchange& exchange) override {
        ++served;
        const Request& request = exchange.request();
        const std::string target(request.target());
        const std::string path(request.path());
        gateway::Response response;
        response.headers.emplace_back("X-Target", target);
        response.headers.emplace_back("X-Method", std::string(request.method()));
        response.headers.emplace_back("X-Request-Length", std::to_string(request.body.size()));
        if (path == "/204") {
            response.status = 204;
            response.body = "a body a 204 must not carry";
        } else if (path == "/304") {
            response.status = 304;
            response.body = "a body a 304 must not carry";
        } else if (path == "/close") {
            response.body = "closing";
            response.close = true;
        } else if (path == "/info") {
            response.body =
                std::string(request.remote_addr) + " " + std::to_string(request.loop_index);
        } else if (path == "/big") {
            response.body.assign(query_number(target, "n"), 'b');
            for (std::size_t i = 0; i < response.body.size(); i += 997) response.body[i] = 'B';
        } else if (path == "/head-length") {
            response.headers.emplace_back("Content-Length", "5");
            response.body = "hello";
        } else if (!request.body.empty()) {
            response.body = std::string(request.body);
        } else {
            response.body = "served " + target;
        }

        // Response is move-only (it may hold a budget lease); std::function wants copies.
        auto answer = std::make_shared<gateway::Response>(std::move(response));
        if (path == "/later") {
            gateway::EventLoop& loop = server_->loop(request.loop_index);
            delayer_.after(std::chrono::milliseconds(query_number(target, "ms")),
                           [this, &loop, &exchange, answer] {
                               loop.post([this, &exchange, answer] {
                                   ++answered_later;
                                   exchange.respond(std::move(*answer));
                               });
                           });
        } else if (path == "/worker") {
            answer->headers.emplace_back("X-Served-By", "worker");
            exchange.respond_from_worker([this, answer] {
                ++worker_jobs;
                return std::move(*answer);
            });
        } else if (path == "/stream") {
            const std::size_t total = query_number(target, "n");
            const std::size_t piece = std::max<std::size_t>(1, query_number(target, "piece"));
            // end_ms: the worker ends the stream this long after its last write, so the end
            // reaches the loop on its own.
            const auto end_delay = std::chrono::milliseconds(query_number(target, "end_ms"));
            exchange.respond_from_worker([this, total, piece, end_delay] {
                gateway::Response streamed;
                streamed.headers.emplace_back("X-Served-By", "stream");
                streamed.stream = [this, total, piece, end_delay](gateway::BodyWriter& writer) {
                    PatternStream body(5);  // pattern(total, 5), made as it is sent
                    for (std::size_t at = 0; at < total; at += piece) {
                        if (!writer.write(body.next(std::min(piece, total - at)))) {
                            ++stream_failed;
                            break;
                        }
                        stream_written += std::min(piece, total - at);
                    }
                    std::this_thread::sleep_for(end_delay);  // the delay is what is tested
                    ++stream_done;
                };
                return streamed;
            });
        } else {
            exchange.respond(std::move(*answer));
        }
    }

    std::atomic<int> served{0};
    std::atomic<int> answered_later{0};
    std::atomic<int> worker_jobs{0};
    std::atomic<std::size_t> stream_written{0};
    std::atomic<int> stream_failed{0};
    std::atomic<int> stream_done{0};

  private:
    EventServer* server_ = nullptr;
    Delayer delayer_;
};

inline ServerOptions test_options() {
    ServerOptions options;
    options.loops = 2;
    options.read_timeout = 5s;
    options.write_timeout = 5s;
    options.keep_alive_timeout = 5s;
    options.worker_threads = 8;
    return options;
}

inline ServerOptions short_timeouts() {
    ServerOptions options = test_options();
    options.read_timeout = 300ms;
    options.keep_alive_timeout = 300ms;
    return options;
}

// A running EventServer on 127.0.0.1 with its handler; stopped and joined on destruction.
struct ServerFixture {
    explicit ServerFixture(ServerOptions options = test_options(),
                           faas::MemoryBudget* budget = nullptr)
        : server(options, handler, budget) {
        handler.attach(server);
        port = server.bind("127.0.0.1", 0, 1024);
        REQUIRE(port > 0);
        thread = std::thread([this] {
            server.run();
            returned = true;
        });
    }
    ~ServerFixture() {
        handler.stop();
        server.stop();
        if (thread.joinable()) thread.join();
    }
    ServerFixture(const ServerFixture&) = delete;
    ServerFixture& operator=(const ServerFixture&) = delete;

    TestHandler handler;  // outlives the server, which refers to it
    EventServer server;
    int port = -1;
    std::atomic<bool> returned{false};
    std::thread thread;
};

// One request of the mix the tests cycle through, with what its answer must show.
struct Expected {
    std::string bytes;
    std::string target;
    std::string body;
};

inline Expected mix(int i) {
    const std::string n = std::to_string(i);
    switch (i % 5) {
        case 0:
            return {raw_get("/now?i=" + n), "/now?i=" + n, "served /now?i=" + n};
        case 1:
            return {raw_get("/later?ms=2&i=" + n), "/later?ms=2&i=" + n,
                    "served /later?ms=2&i=" + n};
        case 2:
            return {raw_get("/worker?i=" + n), "/worker?i=" + n, "served /worker?i=" + n};
        case 3: {
            const std::string body = pattern(100 + static_cast<std::size_t>(i), i);
            return {raw_post("/echo?i=" + n, body), "/echo?i=" + n, body};
        }
        default: {
            const std::string body = pattern(50 + static_cast<std::size_t>(i), i);
            return {"POST /echo?i=" + n +
                        " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        chunked(body, 17),
                    "/echo?i=" + n, body};
        }
    }
}

inline void check_answer(const std::optional<RawResponse>& response, const Expected& expected) {
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
    CHECK(response->header("X-Target") == expected.target);
    CHECK(response->body == expected.body);
    CHECK(response->header("Connection") != "close");
}

}  // namespace faas::test
