// HTTP to the gateway's REST API with libcurl: one request at a time, basic auth when logged
// in, and errors a user can act on (gateway unreachable, 401 means log in).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faas::cli {

struct BasicCredentials {
    std::string user;
    std::string password;
};

struct HttpResponse {
    long status = 0;
    std::string body;
    /// Header names lower-cased; a repeated header keeps its last value.
    std::map<std::string, std::string> headers;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class GatewayClient {
  public:
    GatewayClient(std::string base_url, std::optional<BasicCredentials> credentials,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

    /// Sends one request to base_url + `target` (a path with its query, e.g. "/system/functions").
    /// Throws CliError when the gateway cannot be reached ("cannot reach the gateway at URL: ...");
    /// any HTTP status is returned, not thrown.
    HttpResponse request(std::string_view method, std::string_view target,
                         std::string_view body = {}, const HeaderList& headers = {}) const;

    /// Like request, but hands the body to `sink` as it arrives (logs --follow); `sink` returns
    /// false to stop. Returns the status; no timeout on the body, only on connecting. Only a 2xx
    /// body reaches `sink`: another's (its error message, up to 64 KiB) goes to `error_body`.
    long stream(std::string_view method, std::string_view target,
                const std::function<bool(std::string_view)>& sink,
                std::string* error_body = nullptr) const;

    const std::string& base_url() const { return base_url_; }
    bool has_credentials() const { return credentials_.has_value(); }

  private:
    std::string base_url_;
    std::optional<BasicCredentials> credentials_;
    std::chrono::milliseconds timeout_;
};

/// Throws CliError unless `response` is 2xx: 401 says to run `faas login`; other statuses say
/// `what` failed with the gateway's status and message (its body, trimmed to one line).
void expect_success(const HttpResponse& response, std::string_view what,
                    const GatewayClient& client);

}  // namespace faas::cli
