// A Swarm service's logs through the Engine API: the multiplexed byte stream split back into
// lines, each line parsed into a LogEntry, and the LogStreams /system/logs reads (all lines at
// once, or followed on a thread of their own).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provider/function_provider.h"
#include "provider/swarm/docker_client.h"

namespace faas::gateway::swarm {

/// The Engine API multiplexes stdout and stderr of a non-TTY service into frames of an 8-byte
/// header (stream, 0, 0, 0, big-endian length) and a payload. This splits any chunking of that
/// stream back into complete lines; a stream that does not start with a frame header (a TTY
/// service) is taken as plain text.
class LogDemuxer {
  public:
    /// Feeds the next bytes; returns the lines completed by them (without the newline).
    std::vector<std::string> feed(std::string_view bytes);
    /// The last unterminated line, at the end of the stream.
    std::optional<std::string> finish();

  private:
    enum class Mode { kUnknown, kFramed, kRaw };
    void take_payload(std::string_view payload, std::vector<std::string>& out);

    Mode mode_ = Mode::kUnknown;
    std::string pending_;  // undecoded frame bytes
    std::string line_;     // current partial line
};

/// One service log line as asked with timestamps=1 and details=1:
/// "<RFC3339Nano> com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,
/// com.docker.swarm.task.id=<id> <text>". `instance` is the task ID.
LogEntry parse_log_line(std::string_view line, const std::string& function_name);

/// The logs of service `service_id` as `query` asks (tail, since, instance, follow). A
/// follower reads on its own thread and must not outlive `docker`. Throws what DockerClient
/// throws, and the engine's refusal as NotFound/BadRequest/ProviderUnavailable.
std::unique_ptr<LogStream> service_logs(const DockerClient& docker, const std::string& service_id,
                                        const LogQuery& query);

}  // namespace faas::gateway::swarm
