// Waiting on conditions with a deadline, never on bare sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace faas::test {

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Waits until GET http://127.0.0.1:<port><path> answers `status`.
bool wait_for_http(int port, const std::string& path, int status = 200,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Sends raw bytes to 127.0.0.1:<port> and returns everything read until the peer closes or
/// `timeout` passes: for requests no well-behaved client library would send.
std::string raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace faas::test
