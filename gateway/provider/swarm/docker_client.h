// A small Docker Engine API client: HTTP over the engine's unix socket with libcurl
// (CURLOPT_UNIX_SOCKET_PATH), versioned paths ("/v1.41/services"), every call bounded by a
// connect timeout and a total deadline so a slow or dead dockerd never hangs a caller.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.h"

namespace faas::gateway {

struct DockerClientOptions {
    std::string socket_path = "/var/run/docker.sock";
    /// Prefix of every path; 1.41 is Docker 20.10's, the oldest engine we run on.
    std::string api_version = "1.41";
    std::chrono::milliseconds connect_timeout{2000};
    /// Default deadline of one call, connect to last byte.
    std::chrono::milliseconds timeout{5000};
    /// Largest response body kept; a larger one fails the call.
    std::size_t max_response_bytes = 64u << 20;
};

struct DockerResponse {
    long status = 0;
    std::string body;

    bool ok() const { return status >= 200 && status < 300; }
    /// The engine's {"message": ...} text, or the body itself.
    std::string message() const;
};

/// Thrown when the engine cannot be reached or does not answer in time: the gateway maps it to
/// 502 and keeps serving what it already knows.
class DockerUnavailable : public ProviderUnavailable {
  public:
    using ProviderUnavailable::ProviderUnavailable;
};

/// A non-2xx answer from the engine as the provider's typed error: 404 NotFound, 409
/// AlreadyExists, 400 BadRequest, 503 DockerUnavailable (not a Swarm manager), else
/// ProviderUnavailable; the message is `what` and the engine's own.
[[noreturn]] void throw_engine_error(const std::string& what, const DockerResponse& response);

class DockerClient {
  public:
    explicit DockerClient(DockerClientOptions options);

    /// One request; `path` is below the version prefix and may carry a query ("/services?x=1").
    /// A non-2xx answer is returned, not thrown. Throws DockerUnavailable on transport errors.
    DockerResponse request(const std::string& method, const std::string& path,
                           const std::string* body = nullptr,
                           const std::vector<std::string>& extra_headers = {},
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;

    /// GET that hands each chunk of the body to `on_data` as it arrives (logs). `on_data`
    /// returns false to stop; so does `keep_going` (polled about every 100 ms). Returns the
    /// status; a stream ended by either callback or by `max_duration` is not an error.
    long stream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                const std::function<bool()>& keep_going,
                std::chrono::milliseconds max_duration) const;

    /// POST of `body` (sent from memory, not copied: a build context of tens of MB) whose answer
    /// is handed to `on_data` chunk by chunk as it arrives, whatever the status, so a caller can
    /// keep a non-2xx answer's message. `headers` are whole lines ("Content-Type: ..."); without
    /// a Content-Type none is sent. `on_data` returns false to stop; so does `keep_going`
    /// (polled at least every 100 ms, also while the engine is silent); closing the connection
    /// is how the engine learns to stop a build. Returns the status (0 if stopped before one
    /// arrived). Throws DockerUnavailable on transport errors and when `max_duration` runs out.
    long post_stream(const std::string& path, const std::string& body,
                     const std::vector<std::string>& headers,
                     const std::function<bool(std::string_view)>& on_data,
                     const std::function<bool()>& keep_going,
                     std::chrono::milliseconds max_duration) const;

    /// GET returning parsed JSON; throws DockerUnavailable, or ProviderUnavailable with the
    /// engine's message on a non-2xx answer.
    nlohmann::json get_json(const std::string& path) const;

    /// Percent-encodes a query value.
    static std::string url_encode(std::string_view text);
    /// "filters=<url-encoded JSON>" from {"label": ["a=b"], ...}.
    static std::string filters(const nlohmann::json& filters);

  private:
    std::string url(const std::string& path) const;

    DockerClientOptions options_;
};

}  // namespace faas::gateway
