// Serves a request by forking fprocess for it: `serializing` buffers the body and the output
// (the classic watchdog), `streaming` pipes both through as they come.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "child_process.h"
#include "config.h"
#include "memory_budget.h"

namespace faas::watchdog {

class ForkHandler {
  public:
    ForkHandler(const Config& config, std::vector<std::string> base_env);

    /// Runs fprocess with `body` on stdin and answers with its whole output, which is paid for
    /// from `memory` as it grows (503 when the budget cannot pay).
    void serve_buffered(const httplib::Request& req, httplib::Response& res,
                        const std::string& body, Reservation& memory) const;
    /// Runs fprocess and streams: the body from `reader` (null: empty stdin) into it, and its
    /// stdout out as a chunked response. The status is 200 once streaming has begun; a failure
    /// after that (timeout, non-zero exit) ends the response without its final chunk, so the
    /// client sees an incomplete response rather than a silent truncation.
    void serve_streaming(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader* reader) const;

  private:
    /// Starts fprocess, or answers 500 and returns null when it cannot be started.
    std::unique_ptr<ChildProcess> start_child(const std::vector<std::string>& env,
                                              httplib::Response& res) const;
    std::string response_content_type(const httplib::Request& req) const;

    const Config& config_;
    std::vector<std::string> base_env_;
};

}  // namespace faas::watchdog
