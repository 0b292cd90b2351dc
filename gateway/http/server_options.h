// The front door's settings: timeouts, bounds and the worker pool's size.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "http/request_head.h"

namespace faas::gateway {

struct ServerOptions {
    std::size_t loops = 0;  ///< 0: one per core.
    /// Bounds reading a whole request, head and body (Go's ReadTimeout).
    std::chrono::nanoseconds read_timeout = std::chrono::seconds(10);
    /// Bounds writing a whole response (Go's WriteTimeout), and a stalled streamed one.
    std::chrono::nanoseconds write_timeout = std::chrono::seconds(10);
    std::chrono::nanoseconds keep_alive_timeout = std::chrono::seconds(5);
    /// Larger bodies are answered 413 as soon as their length is known.
    std::uint64_t max_body_bytes = 64ULL << 20;
    HeadLimits head_limits;
    /// Threads for the work that may block (the admin API), started as needed.
    std::size_t worker_threads = 64;
    /// After an early answer (413 before the body was read, say), how long and how much of what
    /// the client still sends is read and dropped, so the client gets to read the answer.
    std::chrono::nanoseconds linger_timeout = std::chrono::seconds(5);
    std::uint64_t linger_bytes = 128ULL << 20;
};

}  // namespace faas::gateway
