// Reading the queue worker's settings from the environment.
#include "config.h"

#include <sstream>

#include "call_message.h"
#include "queue_names.h"
#include "settings.h"

namespace faas::queue_worker {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

/// A duration within [min, max], named in the error with both bounds.
milliseconds bounded_duration(const Env& env, const std::string& name, milliseconds fallback,
                              milliseconds min, milliseconds max) {
    const auto value = duration_cast<milliseconds>(get_duration(env, name, fallback));
    if (value < min || value > max)
        throw ConfigError(name, "must be from " + format_duration(min) + " to " +
                                    format_duration(max) + ", not " + format_duration(value));
    return value;
}

/// An http:// or https:// base URL, without a trailing '/' (paths are appended to it).
std::string base_url(const Env& env, const std::string& name, const std::string& fallback) {
    std::string url = get_string(env, name, fallback);
    if (url.empty()) url = fallback;
    const bool http = url.starts_with("http://") || url.starts_with("https://");
    if (!http || url.find_first_of(" \t\r\n?#") != std::string::npos)
        throw ConfigError(name, "'" + url + "' is not an http:// or https:// URL");
    while (url.ends_with('/')) url.pop_back();
    if (url.ends_with(":/") || url.ends_with(":")) throw ConfigError(name, "has no host");
    return url;
}

}  // namespace

Config read_config(const Env& env) {
    Config config;
    config.nats_url = get_string(env, "nats_url", config.nats_url);
    if (config.nats_url.find_first_not_of(" \t,") == std::string::npos)
        throw ConfigError("nats_url", "must name at least one server, e.g. nats://127.0.0.1:4222");
    config.gateway_url = base_url(env, "gateway_url", config.gateway_url);

    config.queue = get_string(env, "queue", queue::kDefaultQueue);
    if (config.queue.empty()) config.queue = queue::kDefaultQueue;
    if (!queue::is_valid_queue_name(config.queue))
        throw ConfigError(
            "queue", "'" + config.queue + "' is not a queue name (1 to 64 of A-Z a-z 0-9 - _)");

    config.max_inflight =
        static_cast<int>(get_int(env, "max_inflight", config.max_inflight, 1, 1000));
    config.ack_wait = bounded_duration(env, "ack_wait", config.ack_wait, std::chrono::seconds(1),
                                       std::chrono::hours(12));
    config.upstream_timeout =
        bounded_duration(env, "upstream_timeout", config.upstream_timeout,
                         std::chrono::milliseconds(1), std::chrono::hours(24));
    config.retry = queue::read_retry_policy(env);
    config.max_callback_attempts = static_cast<int>(
        get_int(env, "max_callback_attempts", config.max_callback_attempts, 1, 100));
    config.call_record_ttl =
        bounded_duration(env, "call_record_ttl", config.call_record_ttl, std::chrono::seconds(1),
                         std::chrono::hours(24 * 365));

    config.max_async_bytes = get_byte_size(env, "max_async_bytes", config.max_async_bytes);
    // NATS's max_payload cannot be set above 64 MiB, so no stored call is larger.
    if (config.max_async_bytes == 0 || config.max_async_bytes > (64ULL << 20))
        throw ConfigError("max_async_bytes", "must be from 1 byte to 64Mi");
    config.max_response_bytes = get_byte_size(env, "max_response_bytes", config.max_response_bytes);
    if (config.max_response_bytes == 0 || config.max_response_bytes > (1ULL << 30))
        throw ConfigError("max_response_bytes", "must be from 1 byte to 1Gi");
    config.metrics_port =
        static_cast<int>(get_int(env, "metrics_port", config.metrics_port, 0, 65535));
    return config;
}

std::string without_credentials(const std::string& urls) {
    std::string out;
    std::size_t start = 0;
    while (start <= urls.size()) {
        std::size_t comma = urls.find(',', start);
        if (comma == std::string::npos) comma = urls.size();
        std::string url = urls.substr(start, comma - start);
        const std::size_t scheme = url.find("://");
        const std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
        const std::size_t at = url.find('@', host);
        if (at != std::string::npos && at < url.find('/', host))
            url.replace(host, at - host, "***");
        out += (start == 0 ? "" : ",") + url;
        start = comma + 1;
    }
    return out;
}

std::string describe(const Config& config) {
    std::ostringstream codes;
    for (int code : config.retry.retry_statuses) codes << (codes.tellp() > 0 ? "," : "") << code;
    std::ostringstream out;
    out << "queue-worker: queue=" << config.queue
        << " nats_url=" << without_credentials(config.nats_url)
        << " gateway_url=" << without_credentials(config.gateway_url)
        << " max_inflight=" << config.max_inflight
        << " ack_wait=" << format_duration(config.ack_wait)
        << " upstream_timeout=" << format_duration(config.upstream_timeout)
        << " max_retry_attempts=" << config.retry.max_attempts
        << " initial_retry_wait=" << format_duration(config.retry.initial_wait)
        << " max_retry_wait=" << format_duration(config.retry.max_wait)
        << " retry_http_codes=" << codes.str()
        << " max_callback_attempts=" << config.max_callback_attempts
        << " call_record_ttl=" << format_duration(config.call_record_ttl)
        << " max_async_bytes=" << config.max_async_bytes
        << " max_response_bytes=" << config.max_response_bytes
        << " metrics_port=" << config.metrics_port;
    return out.str();
}

}  // namespace faas::queue_worker
