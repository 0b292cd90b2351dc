// A small RAII wrapper over the NATS C client's JetStream API: a connection, streams with
// de-duplicating publish, durable pull consumers and key-value buckets, and read-only looks at
// what a stream and its consumers hold (for metrics). Failures are exceptions carrying the
// client's own text; no NATS type appears in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace faas::queue {

/// NATS refused or failed an operation (a bad configuration, a key it does not accept, ...).
class QueueError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// NATS cannot be reached or did not answer in time: nothing was stored, try again later
/// (the gateway's 503). The text is the client's, e.g. "nats: No server available for connect".
class QueueUnavailable : public QueueError {
  public:
    using QueueError::QueueError;
};

/// The stream named does not exist (yet): a QueueError, told apart for readers that treat a
/// stream nobody has made as empty.
class NoSuchStream : public QueueError {
  public:
    using QueueError::QueueError;
};

struct ConnectOptions {
    std::string url = "nats://127.0.0.1:4222";  ///< Several may be given, comma-separated.
    std::chrono::milliseconds connect_timeout{2000};
    std::string client_name = "faas";
    /// Keep trying in the background when no server answers at first, instead of throwing:
    /// operations throw QueueUnavailable until a server is up (for a gateway that starts
    /// before NATS does).
    bool retry_in_background = false;
    /// Between reconnection attempts after a connection is lost (it is retried for ever).
    std::chrono::milliseconds reconnect_wait{250};
};

enum class Storage { kFile, kMemory };
/// kLimits keeps messages until max_age; kWorkQueue removes each once it is acknowledged (and
/// allows one consumer per subject); kInterest keeps them while a consumer has not acked.
enum class Retention { kLimits, kWorkQueue, kInterest };

struct StreamConfig {
    std::string name;
    std::vector<std::string> subjects;
    Retention retention = Retention::kLimits;
    Storage storage = Storage::kFile;
    std::chrono::milliseconds max_age{0};  ///< 0: no age limit.
    /// A message id seen again within this window is not stored twice. NATS requires it to be
    /// at most max_age when max_age is set.
    std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
    std::int32_t max_message_bytes = -1;  ///< -1: the server's max_payload is the only limit.
};

struct PubAck {
    std::string stream;
    std::uint64_t sequence = 0;
    bool duplicate = false;  ///< The message id was seen within the window: nothing was stored.
};

/// What a stream holds now.
struct StreamState {
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t first_sequence = 0;
    std::uint64_t last_sequence = 0;
    /// When the oldest message was stored; nullopt when the stream is empty.
    std::optional<std::chrono::system_clock::time_point> first_time;
    std::int64_t consumers = 0;
};

/// A durable pull consumer: it outlives every process that fetches from it.
struct ConsumerConfig {
    std::string stream;
    std::string durable;         ///< Its name; no '.', '*', '>' or spaces.
    std::string filter_subject;  ///< The subject it takes messages from (required).
    /// A delivered message not acknowledged (nor in_progress()) within this is delivered again.
    std::chrono::milliseconds ack_wait{30000};
    /// Deliveries of one message before the server gives up on it; -1 for no limit. A message
    /// past it stays in the stream undelivered, so dead-letter before it is reached.
    int max_deliver = -1;
    int max_ack_pending = 1000;  ///< Delivered but unacknowledged messages at most, all fetchers.
};

/// A durable consumer's progress, as the server reports it.
struct ConsumerState {
    std::string name;
    std::string filter_subject;
    std::uint64_t pending = 0;      ///< Stored messages it has not delivered yet.
    std::uint64_t ack_pending = 0;  ///< Delivered and not acknowledged yet.
    std::uint64_t redelivered = 0;  ///< Of ack_pending, those delivered more than once.
    /// Every message of the stream up to this sequence is acknowledged (0: none yet).
    std::uint64_t ack_floor_sequence = 0;
};

/// A message read back from a stream, where it stays.
struct StoredMessage {
    std::string subject;
    std::uint64_t sequence = 0;
    std::chrono::system_clock::time_point stored_at;
    std::string data;
};

/// Extra NATS headers for publish() (the message id is set by publish itself).
using NatsHeaders = std::vector<std::pair<std::string, std::string>>;

/// One message fetched from a pull consumer. Acknowledge it once with ack(), nak() or term();
/// before that, in_progress() as often as needed. Safe to use from any one thread at a time
/// or from several (an in_progress() ticker beside the call): calls are serialised.
class Delivery {
  public:
    struct Impl;
    explicit Delivery(std::unique_ptr<Impl> impl);
    Delivery(Delivery&&) noexcept;
    Delivery& operator=(Delivery&&) noexcept;
    ~Delivery();

    /// The payload, valid while this Delivery lives.
    std::string_view data() const;
    std::string_view subject() const;
    /// The value of header `name` (first one), if the message has it.
    std::optional<std::string> header(const std::string& name) const;
    /// 1 on the first delivery, 2 on the first redelivery, ...
    std::uint64_t num_delivered() const;
    std::uint64_t stream_sequence() const;
    /// When the message was stored in the stream.
    std::chrono::system_clock::time_point stored_at() const;

    /// Done: the stream (if a work queue) drops the message.
    void ack();
    /// Deliver again after `delay` (0: as soon as possible).
    void nak(std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    /// Still working on it: restarts the ack_wait clock.
    void in_progress();
    /// Never deliver again (the message stays in a limits stream until it ages out).
    void term();

  private:
    std::unique_ptr<Impl> impl_;
};

class PullConsumer {
  public:
    struct Impl;
    explicit PullConsumer(std::shared_ptr<Impl> impl);

    /// Up to `batch` messages, waiting at most `timeout` for the first; an empty vector when
    /// none came. Concurrent calls are serialised. Throws QueueUnavailable when disconnected.
    std::vector<Delivery> fetch(int batch, std::chrono::milliseconds timeout);

  private:
    std::shared_ptr<Impl> impl_;
};

/// A key-value bucket (a stream named KV_<bucket>): one value per key, expiring after the
/// bucket's TTL.
class KeyValue {
  public:
    struct Impl;
    explicit KeyValue(std::shared_ptr<Impl> impl);

    /// What NATS accepts as a key: 1 or more of A-Z a-z 0-9 - _ / \ = and '.' between others.
    static bool valid_key(std::string_view key);

    /// Stores `value` under `key` (QueueError for an invalid key); returns its revision.
    std::uint64_t put(const std::string& key, std::string_view value);
    /// Stores every entry without waiting for each acknowledgement in turn: all are sent, then
    /// their acknowledgements awaited together, for at most `timeout`. How many were stored;
    /// entries with an invalid key, refused or unacknowledged in time are not counted. Throws
    /// QueueUnavailable when not connected (nothing sent). Calls are serialised.
    std::size_t put_all(const std::vector<std::pair<std::string, std::string>>& entries,
                        std::chrono::milliseconds timeout);
    /// nullopt when the key was never set, was erased or expired.
    std::optional<std::string> get(const std::string& key);
    void erase(const std::string& key);
    /// Live keys, oldest update first, stopping after `limit`. Bounded by `timeout` too
    /// (QueueUnavailable past it).
    std::vector<std::string> keys(std::size_t limit = 10000,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The `limit` most recently updated live keys with their values, oldest update first,
    /// read from the tail of the bucket's stream (no read per key, no pass over keys updated
    /// long ago); newest first, it stops once the values passed `max_bytes` in all. Bounded by
    /// `timeout` too (QueueUnavailable past it).
    std::vector<std::pair<std::string, std::string>> entries(
        std::size_t limit = 10000, std::size_t max_bytes = 64u << 20,
        std::chrono::milliseconds timeout = std::chrono::seconds(5));

  private:
    std::shared_ptr<Impl> impl_;
};

/// A connection to NATS with JetStream. Copies share the connection; it closes when the last
/// copy, consumer, bucket and delivery made from it are gone. Every method is thread-safe.
class JetStream {
  public:
    struct Impl;

    /// Throws QueueUnavailable when no server answers within the timeout (unless
    /// retry_in_background). Lost connections are retried for ever in the background.
    static JetStream connect(const ConnectOptions& options);
    static JetStream connect(const std::string& url, std::chrono::milliseconds connect_timeout);

    /// Connected now (false while (re)connecting).
    bool connected() const;
    /// The largest message the server takes (its max_payload, 1 MiB unless configured); 0
    /// before the first connection. Larger publishes throw QueueError, not QueueUnavailable.
    std::int64_t max_payload() const;

    /// Creates the stream, or updates it to `config` (some changes, e.g. storage or retention,
    /// the server refuses: QueueError).
    void ensure_stream(const StreamConfig& config);
    /// Throws NoSuchStream when there is no such stream.
    StreamState stream_state(const std::string& stream);
    /// How many messages each subject of `stream` matching `filter` (wildcards allowed) holds;
    /// subjects without messages are absent. Throws NoSuchStream when there is no such stream.
    std::map<std::string, std::uint64_t> subject_counts(
        const std::string& stream, const std::string& filter,
        std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Every durable consumer of `stream` (NoSuchStream when there is no such stream).
    std::vector<ConsumerState> consumers(
        const std::string& stream, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// nullopt when `stream` has no consumer `name`.
    std::optional<ConsumerState> consumer_state(
        const std::string& stream, const std::string& name,
        std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The message stored at `sequence`; nullopt when there is none (never stored, deleted, or
    /// acknowledged from a work queue). NoSuchStream when there is no such stream (also below).
    std::optional<StoredMessage> message(
        const std::string& stream, std::uint64_t sequence,
        std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The first message on `subject` (no wildcards needed, but allowed) at `sequence` or after
    /// it; nullopt when there is none.
    std::optional<StoredMessage> next_message(
        const std::string& stream, const std::string& subject, std::uint64_t sequence = 1,
        std::chrono::milliseconds timeout = std::chrono::seconds(5));

    /// Removes one message (a queued call cancelled); false when it is not there (any more).
    bool delete_message(const std::string& stream, std::uint64_t sequence);

    /// Stores `data` on `subject` and waits up to `timeout` for the stream's acknowledgement.
    /// A non-empty `msg_id` seen within the stream's duplicate window is reported duplicate and
    /// stored once. Throws QueueUnavailable when not connected (at once), on timeout or when no
    /// stream takes the subject; the message may still be stored after a timeout.
    PubAck publish(const std::string& subject, std::string_view data, const std::string& msg_id,
                   std::chrono::milliseconds timeout, const NatsHeaders& headers = {});

    /// Creates or updates the durable consumer and binds a pull subscription to it.
    PullConsumer ensure_consumer(const ConsumerConfig& config);

    /// Creates the bucket, or updates its TTL and history (1..64 values kept per key). A TTL
    /// of 0 keeps values for ever. `max_values` > 0 bounds the values stored in all: past it
    /// the oldest are discarded to make room (-1: no bound).
    KeyValue ensure_bucket(const std::string& name, std::chrono::milliseconds ttl, int history = 1,
                           std::int64_t max_values = -1);

  private:
    explicit JetStream(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace faas::queue
