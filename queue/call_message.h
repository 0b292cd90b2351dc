// The queued call: what the gateway stores in the stream for /async-function/<name> and the
// queue worker reads back to make the call (OpenFaaS's queue request, plus our call id, queue
// and X-Keep-Result), and its byte format.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace faas::queue {

/// Header fields in the order the client sent them; a repeated name is repeated.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct CallMessage {
    std::string call_id;   ///< X-Call-Id: the message id (de-duplication) and the record's key.
    std::string function;  ///< "name" or "name.namespace", as the gateway resolved it.
    std::string method;
    std::string path;   ///< After /async-function/<name>: "" or "/...", still percent-encoded.
    std::string query;  ///< Without the '?', still percent-encoded; "" when none.
    HeaderList headers;
    std::string body;                         ///< Bytes, any.
    std::optional<std::string> callback_url;  ///< X-Callback-Url.
    std::string queue;                        ///< com.openfaas.queue, or the default queue.
    std::chrono::system_clock::time_point enqueued_at;
    bool keep_result = false;  ///< X-Keep-Result: true.

    bool operator==(const CallMessage&) const = default;
};

/// Stored bytes that are not a call message, or a message that breaks a rule below.
class BadMessage : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Limits every message obeys, checked by encode() and decode() alike. Headers mirror the
/// gateway's front door (100 fields in a 64 KiB head); path and query its request line.
inline constexpr std::size_t kMaxHeaders = 100;
inline constexpr std::size_t kMaxHeaderNameBytes = 256;
inline constexpr std::size_t kMaxHeaderValueBytes = 16 << 10;
inline constexpr std::size_t kMaxHeaderBytes = 64 << 10;  ///< All names and values together.
inline constexpr std::size_t kMaxPathBytes = 8 << 10;
inline constexpr std::size_t kMaxQueryBytes = 8 << 10;
inline constexpr std::size_t kMaxCallbackUrlBytes = 2 << 10;
inline constexpr std::size_t kMaxCallIdBytes = 128;
inline constexpr std::size_t kMaxFunctionBytes = 128;
inline constexpr std::size_t kMaxQueueNameBytes = 64;
/// The head line at most (every limit above, escaped): a message is never larger than its body
/// plus this, so a body of max_payload - kMaxHeadBytes always fits in a NATS message.
inline constexpr std::size_t kMaxHeadBytes =
    2 * (kMaxHeaderBytes + kMaxPathBytes + kMaxQueryBytes + kMaxCallbackUrlBytes) +
    8 * kMaxHeaders + 4096;

/// 1 to 128 of A-Z a-z 0-9 '-' '_': a UUID fits, and so does anything safe as a NATS message
/// id and key-value key. The gateway answers 400 to an X-Call-Id outside it.
bool is_valid_call_id(std::string_view id);

/// 1 to 64 of A-Z a-z 0-9 '-' '_': a queue name becomes part of a subject and a consumer name.
bool is_valid_queue_name(std::string_view name);

/// The message as one head line of compact JSON, a '\n', then the body's raw bytes (no base64:
/// a body costs its own size against NATS's max_payload, plus the head). Throws BadMessage if
/// the message breaks a rule (a header value with CR or LF, text that is not UTF-8, ...).
std::string encode(const CallMessage& message);

/// Parses bytes read from the stream. Throws BadMessage, with one line saying why, for anything
/// malformed, ambiguous (a repeated JSON key), of an unknown version, or past a limit; the body
/// may be at most `max_body_bytes`.
CallMessage decode(std::string_view bytes, std::size_t max_body_bytes);

}  // namespace faas::queue
