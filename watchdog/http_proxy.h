// http mode's request path: forwards a request to the warm fprocess at upstream_url over
// keep-alive connections (one per server thread) and relays its answer.
#pragma once

#include <httplib.h>

#include <string>

#include "config.h"
#include "memory_budget.h"

namespace faas::watchdog {

class HttpProxy {
  public:
    explicit HttpProxy(const Config& config);
    /// 502 when the upstream cannot be reached or answers garbage, 504 past exec_timeout (or
    /// write_timeout when exec_timeout is 0), 503 when its answer does not fit in `memory`.
    void forward(const httplib::Request& req, const std::string& body, httplib::Response& res,
                 Reservation& memory) const;

  private:
    const Config& config_;
};

}  // namespace faas::watchdog
