// The JetStream wrapper over nats.c 3.4: every NATS object is owned by one Impl and freed in
// its destructor; each Impl holds a shared_ptr to what it was made from (delivery → consumer →
// connection), so the C objects are always freed children first, whatever the caller's order.
#include "jetstream.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>

namespace faas::queue {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

std::int64_t to_ns(milliseconds d) {
    return nanoseconds(d).count();
}

/// Statuses that mean "NATS is not there (now)": nothing was done, try later.
bool is_unavailable(natsStatus s) {
    switch (s) {
        case NATS_NO_SERVER:
        case NATS_CONNECTION_CLOSED:
        case NATS_CONNECTION_DISCONNECTED:
        case NATS_NOT_YET_CONNECTED:
        case NATS_STALE_CONNECTION:
        case NATS_IO_ERROR:
        case NATS_TIMEOUT:
        case NATS_NO_RESPONDERS:
        case NATS_INSUFFICIENT_BUFFER:
            return true;
        default:
            return false;
    }
}

/// Throws for a failed call: the client's last error text for this thread when it is about
/// this status (it carries the server's reason), else the status's own text.
[[noreturn]] void fail(natsStatus s, const std::string& what,
                       jsErrCode jerr = static_cast<jsErrCode>(0)) {
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    std::string_view text = (last == s && detail && *detail) ? detail : natsStatus_GetText(s);
    // The last error starts with where the client raised it: "(conn.c:2088): No server...".
    if (text.starts_with("(")) {
        if (auto end = text.find("): "); end != std::string_view::npos) text.remove_prefix(end + 3);
    }
    std::string message = what + ": nats: " + std::string(text);
    if (jerr != 0) message += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
    if (jerr == JSStreamNotFoundErr) throw NoSuchStream(message);
    if (is_unavailable(s)) throw QueueUnavailable(message);
    throw QueueError(message);
}

void check(natsStatus s, const std::string& what) {
    if (s != NATS_OK) fail(s, what);
}

/// The options of a JetStream API request that waits at most `timeout` for its answer.
jsOptions request_options(milliseconds timeout) {
    jsOptions options;
    jsOptions_Init(&options);
    options.Wait = std::max<std::int64_t>(timeout.count(), 1);
    return options;
}

std::chrono::system_clock::time_point from_unix_ns(std::int64_t ns) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(nanoseconds(ns)));
}

ConsumerState consumer_state_of(const jsConsumerInfo& info) {
    ConsumerState state;
    state.name = info.Name ? info.Name : "";
    if (info.Config && info.Config->FilterSubject)
        state.filter_subject = info.Config->FilterSubject;
    state.pending = info.NumPending;
    state.ack_pending = static_cast<std::uint64_t>(std::max<std::int64_t>(info.NumAckPending, 0));
    state.redelivered = static_cast<std::uint64_t>(std::max<std::int64_t>(info.NumRedelivered, 0));
    state.ack_floor_sequence = info.AckFloor.Stream;
    return state;
}

std::vector<std::string> split_urls(const std::string& urls) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= urls.size()) {
        std::size_t comma = urls.find(',', start);
        if (comma == std::string::npos) comma = urls.size();
        std::string url = urls.substr(start, comma - start);
        url.erase(0, url.find_first_not_of(" \t"));
        url.erase(url.find_last_not_of(" \t") + 1);
        if (!url.empty()) out.push_back(url);
        start = comma + 1;
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The connection.

struct JetStream::Impl {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() {
        // Acknowledgements still in the client's buffer go out before the socket closes.
        if (nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED)
            natsConnection_FlushTimeout(nc, 1000);
        if (js) jsCtx_Destroy(js);
        if (nc) natsConnection_Destroy(nc);
    }

    bool connected() const { return natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED; }

    /// Fails at once rather than waiting out a timeout on a request the client would only
    /// buffer (and might send after the caller has been told it failed).
    void require_connected(const std::string& what) const {
        if (!connected()) throw QueueUnavailable(what + ": nats: not connected to a server");
    }
};

JetStream::JetStream(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

JetStream JetStream::connect(const std::string& url, milliseconds connect_timeout) {
    ConnectOptions options;
    options.url = url;
    options.connect_timeout = connect_timeout;
    return connect(options);
}

JetStream JetStream::connect(const ConnectOptions& options) {
    // The library's locks spin 2000 times before they block, by default: with the gateway's
    // loops sharing one connection that spinning was 30% of its CPU while storing calls (perf,
    // tests/bench/async_bench.sh), and blocking at once halved the CPU per stored call. Set
    // before any other nats_ call; later connections find the library open.
    static const natsStatus opened = nats_Open(0);
    (void)opened;
    const std::string what = "connect to " + options.url;
    auto servers = split_urls(options.url);
    if (servers.empty()) throw QueueError(what + ": no server URL");
    std::vector<const char*> server_ptrs;
    for (const auto& s : servers) server_ptrs.push_back(s.c_str());

    natsOptions* raw_options = nullptr;
    check(natsOptions_Create(&raw_options), what);
    std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> opts(raw_options,
                                                                      natsOptions_Destroy);
    check(natsOptions_SetServers(opts.get(), server_ptrs.data(),
                                 static_cast<int>(server_ptrs.size())),
          what);
    check(natsOptions_SetNoRandomize(opts.get(), true), what);
    check(natsOptions_SetTimeout(opts.get(), options.connect_timeout.count()), what);
    check(natsOptions_SetName(opts.get(), options.client_name.c_str()), what);
    check(natsOptions_SetAllowReconnect(opts.get(), true), what);
    check(natsOptions_SetMaxReconnect(opts.get(), -1), what);
    check(natsOptions_SetReconnectWait(opts.get(), options.reconnect_wait.count()), what);
    // A request in flight when the connection drops fails now, not at its timeout.
    check(natsOptions_SetFailRequestsOnDisconnect(opts.get(), true), what);
    // A callback is what makes the retry asynchronous: without one, nats.c blocks in
    // natsConnection_Connect for as many attempts as MaxReconnect allows (here, for ever).
    if (options.retry_in_background)
        check(natsOptions_SetRetryOnFailedConnect(
                  opts.get(), true, [](natsConnection*, void*) {}, nullptr),
              what);

    auto impl = std::make_shared<Impl>();
    natsStatus s = natsConnection_Connect(&impl->nc, opts.get());
    if (s != NATS_OK && !(options.retry_in_background && s == NATS_NOT_YET_CONNECTED))
        fail(s, what);
    check(natsConnection_JetStream(&impl->js, impl->nc, nullptr), what);
    return JetStream(std::move(impl));
}

bool JetStream::connected() const {
    return impl_->connected();
}

std::int64_t JetStream::max_payload() const {
    return natsConnection_GetMaxPayload(impl_->nc);
}

void JetStream::ensure_stream(const StreamConfig& config) {
    const std::string what = "create stream " + config.name;
    impl_->require_connected(what);
    std::vector<const char*> subjects;
    for (const auto& s : config.subjects) subjects.push_back(s.c_str());
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = config.name.c_str();
    sc.Subjects = subjects.data();
    sc.SubjectsLen = static_cast<int>(subjects.size());
    sc.Retention = config.retention == Retention::kWorkQueue  ? js_WorkQueuePolicy
                   : config.retention == Retention::kInterest ? js_InterestPolicy
                                                              : js_LimitsPolicy;
    sc.Storage = config.storage == Storage::kMemory ? js_MemoryStorage : js_FileStorage;
    sc.MaxAge = to_ns(config.max_age);
    sc.Duplicates = to_ns(config.duplicate_window);
    sc.MaxMsgSize = config.max_message_bytes;

    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&info, impl_->js, &sc, nullptr, &jerr);
    if (s != NATS_OK && jerr == JSStreamNameExistErr) {
        // Same name, other settings: bring the stream to this configuration.
        jerr = static_cast<jsErrCode>(0);
        s = js_UpdateStream(&info, impl_->js, &sc, nullptr, &jerr);
    }
    jsStreamInfo_Destroy(info);
    if (s != NATS_OK) fail(s, what, jerr);
}

StreamState JetStream::stream_state(const std::string& stream) {
    const std::string what = "read stream " + stream;
    impl_->require_connected(what);
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, impl_->js, stream.c_str(), nullptr, &jerr);
    if (s != NATS_OK) fail(s, what, jerr);
    StreamState state;
    state.messages = info->State.Msgs;
    state.bytes = info->State.Bytes;
    state.first_sequence = info->State.FirstSeq;
    state.last_sequence = info->State.LastSeq;
    if (info->State.Msgs > 0) state.first_time = from_unix_ns(info->State.FirstTime);
    state.consumers = info->State.Consumers;
    jsStreamInfo_Destroy(info);
    return state;
}

bool JetStream::delete_message(const std::string& stream, std::uint64_t sequence) {
    const std::string what = "delete message " + std::to_string(sequence) + " of " + stream;
    impl_->require_connected(what);
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_DeleteMsg(impl_->js, stream.c_str(), sequence, nullptr, &jerr);
    if (s == NATS_OK) return true;
    if (jerr == JSNoMessageFoundErr || jerr == JSStreamMsgDeleteFailed) return false;
    fail(s, what, jerr);
}

std::map<std::string, std::uint64_t> JetStream::subject_counts(const std::string& stream,
                                                               const std::string& filter,
                                                               milliseconds timeout) {
    const std::string what = "count the messages on " + filter + " of " + stream;
    impl_->require_connected(what);
    jsOptions options = request_options(timeout);
    options.Stream.Info.SubjectsFilter = filter.c_str();
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, impl_->js, stream.c_str(), &options, &jerr);
    if (s != NATS_OK) fail(s, what, jerr);
    std::map<std::string, std::uint64_t> counts;
    if (const jsStreamStateSubjects* subjects = info->State.Subjects) {
        for (int i = 0; i < subjects->Count; ++i) {
            const jsStreamStateSubject& subject = subjects->List[i];
            if (subject.Subject && subject.Msgs > 0) counts[subject.Subject] = subject.Msgs;
        }
    }
    jsStreamInfo_Destroy(info);
    return counts;
}

std::vector<ConsumerState> JetStream::consumers(const std::string& stream, milliseconds timeout) {
    const std::string what = "list the consumers of " + stream;
    impl_->require_connected(what);
    jsOptions options = request_options(timeout);
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Consumers(&list, impl_->js, stream.c_str(), &options, &jerr);
    if (s == NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) return {};  // No consumer at all.
    if (s != NATS_OK) fail(s, what, jerr);
    std::vector<ConsumerState> out;
    out.reserve(static_cast<std::size_t>(list->Count));
    for (int i = 0; i < list->Count; ++i)
        if (list->List[i]) out.push_back(consumer_state_of(*list->List[i]));
    jsConsumerInfoList_Destroy(list);
    return out;
}

std::optional<ConsumerState> JetStream::consumer_state(const std::string& stream,
                                                       const std::string& name,
                                                       milliseconds timeout) {
    const std::string what = "read consumer " + name + " of " + stream;
    impl_->require_connected(what);
    jsOptions options = request_options(timeout);
    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetConsumerInfo(&info, impl_->js, stream.c_str(), name.c_str(), &options, &jerr);
    if (s != NATS_OK && jerr == JSConsumerNotFoundErr) return std::nullopt;
    if (s != NATS_OK) fail(s, what, jerr);
    ConsumerState state = consumer_state_of(*info);
    jsConsumerInfo_Destroy(info);
    return state;
}

std::optional<StoredMessage> JetStream::message(const std::string& stream, std::uint64_t sequence,
                                                milliseconds timeout) {
    const std::string what = "read message " + std::to_string(sequence) + " of " + stream;
    impl_->require_connected(what);
    jsOptions options = request_options(timeout);
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, impl_->js, stream.c_str(), sequence, &options, &jerr);
    if (s != NATS_OK && jerr == JSNoMessageFoundErr) return std::nullopt;
    if (s != NATS_OK) fail(s, what, jerr);
    std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)> msg(raw, natsMsg_Destroy);
    StoredMessage out;
    out.subject = natsMsg_GetSubject(msg.get());
    out.sequence = natsMsg_GetSequence(msg.get());
    out.stored_at = from_unix_ns(natsMsg_GetTime(msg.get()));
    if (const int length = natsMsg_GetDataLength(msg.get()); length > 0)
        out.data.assign(natsMsg_GetData(msg.get()), static_cast<std::size_t>(length));
    return out;
}

std::optional<StoredMessage> JetStream::next_message(const std::string& stream,
                                                     const std::string& subject,
                                                     std::uint64_t sequence, milliseconds timeout) {
    const std::string what = "find the next message on " + subject + " of " + stream;
    const std::string api = "$JS.API.STREAM.MSG.GET." + stream;
    // nats.c 3.4 asks for next-by-subject only through the direct get, which needs the stream
    // to allow it; the server's own message-get request takes it as well.
    constexpr int kAttempts = 16;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        impl_->require_connected(what);
        const std::string request = nlohmann::json{
            {"seq", std::max<std::uint64_t>(sequence, 1)},
            {"next_by_subj", subject}}.dump();
        natsMsg* raw = nullptr;
        check(natsConnection_Request(&raw, impl_->nc, api.c_str(), request.data(),
                                     static_cast<int>(request.size()),
                                     std::max<std::int64_t>(timeout.count(), 1)),
              what);
        std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)> reply(raw, natsMsg_Destroy);
        const int length = natsMsg_GetDataLength(reply.get());
        const std::string_view text =
            length > 0
                ? std::string_view(natsMsg_GetData(reply.get()), static_cast<std::size_t>(length))
                : std::string_view();
        const auto answer = nlohmann::json::parse(text, nullptr, false);
        if (!answer.is_object()) throw QueueError(what + ": the server's answer is not JSON");
        if (const auto error = answer.find("error"); error != answer.end() && error->is_object()) {
            const int code = error->value("err_code", 0);
            if (code == JSNoMessageFoundErr) return std::nullopt;
            const std::string message =
                what + ": nats: " + error->value("description", std::string("error")) +
                " (JetStream error " + std::to_string(code) + ")";
            if (code == JSStreamNotFoundErr) throw NoSuchStream(message);
            throw QueueError(message);
        }
        const auto found = answer.find("message");
        if (found == answer.end() || !found->is_object() || !found->contains("seq"))
            throw QueueError(what + ": the server's answer has no message");
        const auto at = found->value("seq", std::uint64_t{0});
        if (auto stored = message(stream, at, timeout)) return stored;
        // Removed since it was found (acknowledged from a work queue): look past it.
        sequence = at + 1;
    }
    throw QueueUnavailable(what + ": messages kept going away while it was read");
}

PubAck JetStream::publish(const std::string& subject, std::string_view data,
                          const std::string& msg_id, milliseconds timeout,
                          const NatsHeaders& headers) {
    const std::string what = "publish to " + subject;
    if (data.size() > static_cast<std::size_t>(INT_MAX)) throw QueueError(what + ": too large");
    impl_->require_connected(what);
    natsMsg* raw_msg = nullptr;
    check(natsMsg_Create(&raw_msg, subject.c_str(), nullptr, data.data(),
                         static_cast<int>(data.size())),
          what);
    std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)> msg(raw_msg, natsMsg_Destroy);
    for (const auto& [name, value] : headers)
        check(natsMsgHeader_Add(msg.get(), name.c_str(), value.c_str()), what);

    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout.count();
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PublishMsg(&ack, impl_->js, msg.get(), &po, &jerr);
    if (s != NATS_OK) fail(s, what, jerr);
    PubAck out{ack->Stream ? ack->Stream : "", ack->Sequence, ack->Duplicate};
    jsPubAck_Destroy(ack);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Pull consumers and their deliveries.

struct PullConsumer::Impl {
    std::shared_ptr<JetStream::Impl> connection;
    natsSubscription* sub = nullptr;
    std::mutex fetch_mutex;  ///< One fetch at a time on the subscription.

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    // Destroying the subscription leaves the durable consumer on the server (nats.c >= 3.4.0;
    // natsSubscription_Unsubscribe would delete it).
    ~Impl() { natsSubscription_Destroy(sub); }
};

struct Delivery::Impl {
    std::shared_ptr<PullConsumer::Impl> consumer;
    natsMsg* msg = nullptr;
    std::uint64_t num_delivered = 0;
    std::uint64_t stream_sequence = 0;
    std::chrono::system_clock::time_point stored_at;
    mutable std::mutex mutex;  ///< natsMsg's acknowledgement state and lazily parsed headers.

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { natsMsg_Destroy(msg); }

    void acknowledge(natsStatus (*send)(natsMsg*), const char* verb) {
        std::lock_guard lock(mutex);
        check(send(msg), std::string(verb) + " message " + std::to_string(stream_sequence));
    }
};

Delivery::Delivery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Delivery::Delivery(Delivery&&) noexcept = default;
Delivery& Delivery::operator=(Delivery&&) noexcept = default;
Delivery::~Delivery() = default;

std::string_view Delivery::data() const {
    return {natsMsg_GetData(impl_->msg),
            static_cast<std::size_t>(natsMsg_GetDataLength(impl_->msg))};
}

std::string_view Delivery::subject() const {
    return natsMsg_GetSubject(impl_->msg);
}

std::optional<std::string> Delivery::header(const std::string& name) const {
    std::lock_guard lock(impl_->mutex);
    const char* value = nullptr;
    natsStatus s = natsMsgHeader_Get(impl_->msg, name.c_str(), &value);
    if (s == NATS_NOT_FOUND) return std::nullopt;
    check(s, "read header " + name);
    return std::string(value ? value : "");
}

std::uint64_t Delivery::num_delivered() const {
    return impl_->num_delivered;
}
std::uint64_t Delivery::stream_sequence() const {
    return impl_->stream_sequence;
}
std::chrono::system_clock::time_point Delivery::stored_at() const {
    return impl_->stored_at;
}

void Delivery::ack() {
    impl_->acknowledge([](natsMsg* m) { return natsMsg_Ack(m, nullptr); }, "ack");
}

void Delivery::nak(milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    natsStatus s = delay.count() > 0 ? natsMsg_NakWithDelay(impl_->msg, delay.count(), nullptr)
                                     : natsMsg_Nak(impl_->msg, nullptr);
    check(s, "nak message " + std::to_string(impl_->stream_sequence));
}

void Delivery::in_progress() {
    impl_->acknowledge([](natsMsg* m) { return natsMsg_InProgress(m, nullptr); }, "in-progress");
}

void Delivery::term() {
    impl_->acknowledge([](natsMsg* m) { return natsMsg_Term(m, nullptr); }, "term");
}

PullConsumer::PullConsumer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::vector<Delivery> PullConsumer::fetch(int batch, milliseconds timeout) {
    const std::string what = "fetch";
    if (batch < 1 || timeout.count() < 1)
        throw QueueError(what + ": batch and timeout must be > 0");
    std::lock_guard lock(impl_->fetch_mutex);
    impl_->connection->require_connected(what);
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, impl_->sub, batch, timeout.count(), &jerr);
    if (s == NATS_TIMEOUT) {
        // Nothing came: an empty queue, unless the connection went away meanwhile.
        impl_->connection->require_connected(what);
        return {};
    }
    if (s != NATS_OK) fail(s, what, jerr);

    std::vector<Delivery> out;
    out.reserve(static_cast<std::size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
        auto d = std::make_unique<Delivery::Impl>();
        d->consumer = impl_;
        std::swap(d->msg, list.Msgs[i]);  // Ours now: the list will not free it.
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, d->msg) == NATS_OK) {
            d->num_delivered = meta->NumDelivered;
            d->stream_sequence = meta->Sequence.Stream;
            d->stored_at = std::chrono::system_clock::time_point(
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    nanoseconds(meta->Timestamp)));
            jsMsgMetaData_Destroy(meta);
        }
        out.emplace_back(std::move(d));
    }
    natsMsgList_Destroy(&list);
    return out;
}

PullConsumer JetStream::ensure_consumer(const ConsumerConfig& config) {
    const std::string what = "create consumer " + config.durable + " on " + config.stream;
    if (config.filter_subject.empty()) throw QueueError(what + ": a filter subject is required");
    impl_->require_connected(what);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = config.durable.c_str();
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = to_ns(config.ack_wait);
    cc.MaxDeliver = config.max_deliver;
    cc.MaxAckPending = config.max_ack_pending;
    cc.FilterSubject = config.filter_subject.c_str();

    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(&info, impl_->js, config.stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK && jerr == JSConsumerNameExistErr) {
        jerr = static_cast<jsErrCode>(0);
        s = js_UpdateConsumer(&info, impl_->js, config.stream.c_str(), &cc, nullptr, &jerr);
    }
    jsConsumerInfo_Destroy(info);
    if (s != NATS_OK) fail(s, what, jerr);

    auto consumer = std::make_shared<PullConsumer::Impl>();
    consumer->connection = impl_;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = config.stream.c_str();
    so.Consumer = config.durable.c_str();
    jerr = static_cast<jsErrCode>(0);
    s = js_PullSubscribe(&consumer->sub, impl_->js, config.filter_subject.c_str(),
                         config.durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) fail(s, what, jerr);
    return PullConsumer(std::move(consumer));
}

// ---------------------------------------------------------------------------------------------
// Key-value buckets.

struct KeyValue::Impl {
    std::shared_ptr<JetStream::Impl> connection;
    kvStore* kv = nullptr;
    std::string bucket;

    /// put_all's context of its own, made on first use: its acknowledgement handler counts
    /// what the server stored, and waiting for its publishes waits for no one else's.
    std::mutex batch_mutex;
    jsCtx* batch_js = nullptr;          ///< Guarded by batch_mutex.
    std::atomic<std::size_t> acked{0};  ///< Stored by the current batch.

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() {
        if (batch_js) jsCtx_Destroy(batch_js);
        kvStore_Destroy(kv);
    }

    void require_valid(const std::string& key, const std::string& what) const {
        if (!KeyValue::valid_key(key)) throw QueueError(what + ": not a valid key");
    }
};

KeyValue::KeyValue(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

bool KeyValue::valid_key(std::string_view key) {
    if (key.empty()) return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const char c = key[i];
        if (c == '.') {
            if (i == 0 || i + 1 == key.size() || key[i - 1] == '.') return false;
            continue;
        }
        const bool alnum =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && std::string_view("-_/\\=").find(c) == std::string_view::npos) return false;
    }
    return true;
}

std::uint64_t KeyValue::put(const std::string& key, std::string_view value) {
    const std::string what = "put " + impl_->bucket + "/" + key;
    impl_->require_valid(key, what);
    if (value.size() > static_cast<std::size_t>(INT_MAX)) throw QueueError(what + ": too large");
    impl_->connection->require_connected(what);
    std::uint64_t revision = 0;
    check(kvStore_Put(&revision, impl_->kv, key.c_str(), value.data(),
                      static_cast<int>(value.size())),
          what);
    return revision;
}

std::size_t KeyValue::put_all(const std::vector<std::pair<std::string, std::string>>& entries,
                              milliseconds timeout) {
    const std::string what =
        "put " + std::to_string(entries.size()) + " values in " + impl_->bucket;
    impl_->connection->require_connected(what);
    std::lock_guard lock(impl_->batch_mutex);
    if (impl_->batch_js == nullptr) {
        jsOptions options;
        check(jsOptions_Init(&options), what);
        options.PublishAsync.AckHandler = [](jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr*,
                                             void* closure) {
            if (ack != nullptr) static_cast<Impl*>(closure)->acked.fetch_add(1);
            natsMsg_Destroy(msg);
        };
        options.PublishAsync.AckHandlerClosure = impl_.get();
        check(natsConnection_JetStream(&impl_->batch_js, impl_->connection->nc, &options), what);
    }
    impl_->acked = 0;
    const std::string prefix = "$KV." + impl_->bucket + ".";
    jsPubOptions publish;
    jsPubOptions_Init(&publish);
    publish.MaxWait = timeout.count();
    for (const auto& [key, value] : entries) {
        if (!valid_key(key) || value.size() > static_cast<std::size_t>(INT_MAX)) continue;
        const std::string subject = prefix + key;
        if (js_PublishAsync(impl_->batch_js, subject.c_str(), value.data(),
                            static_cast<int>(value.size()), &publish) != NATS_OK)
            break;  // disconnected meanwhile: what was sent may still be acknowledged
    }
    js_PublishAsyncComplete(impl_->batch_js, &publish);
    // Whatever is still unacknowledged is given up, so the next batch starts clean.
    natsMsgList pending;
    if (js_PublishAsyncGetPendingList(&pending, impl_->batch_js) == NATS_OK)
        natsMsgList_Destroy(&pending);
    return impl_->acked.load();
}

std::optional<std::string> KeyValue::get(const std::string& key) {
    const std::string what = "get " + impl_->bucket + "/" + key;
    impl_->require_valid(key, what);
    impl_->connection->require_connected(what);
    kvEntry* entry = nullptr;
    natsStatus s = kvStore_Get(&entry, impl_->kv, key.c_str());
    if (s == NATS_NOT_FOUND) return std::nullopt;  // Never set, erased, or expired.
    check(s, what);
    std::string value(static_cast<const char*>(kvEntry_Value(entry)),
                      static_cast<std::size_t>(kvEntry_ValueLen(entry)));
    kvEntry_Destroy(entry);
    return value;
}

void KeyValue::erase(const std::string& key) {
    const std::string what = "erase " + impl_->bucket + "/" + key;
    impl_->require_valid(key, what);
    impl_->connection->require_connected(what);
    check(kvStore_Delete(impl_->kv, key.c_str()), what);
}

namespace {

/// Calls `take` with every live entry of the bucket, oldest update first, until it returns
/// false or every entry was seen; `timeout` bounds the whole walk.
void watch_latest(kvStore* kv, bool meta_only, milliseconds timeout, const std::string& what,
                  const std::function<bool(kvEntry*)>& take) {
    kvWatchOptions options;
    kvWatchOptions_Init(&options);
    options.IgnoreDeletes = true;
    options.MetaOnly = meta_only;
    kvWatcher* raw_watcher = nullptr;
    check(kvStore_WatchAll(&raw_watcher, kv, &options), what);
    std::unique_ptr<kvWatcher, decltype(&kvWatcher_Destroy)> watcher(raw_watcher,
                                                                     kvWatcher_Destroy);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) fail(NATS_TIMEOUT, what);
        kvEntry* entry = nullptr;
        check(kvWatcher_Next(&entry, watcher.get(), left.count()), what);
        if (!entry) return;  // The watcher's marker: every current key has been seen.
        std::unique_ptr<kvEntry, decltype(&kvEntry_Destroy)> owned(entry, kvEntry_Destroy);
        if (!take(entry)) return;
    }
}

}  // namespace

std::vector<std::string> KeyValue::keys(std::size_t limit, milliseconds timeout) {
    // kvStore_Keys would gather every key; a watcher of the latest values lets us stop early.
    const std::string what = "list keys of " + impl_->bucket;
    impl_->connection->require_connected(what);
    std::vector<std::string> keys;
    if (limit == 0) return keys;
    watch_latest(impl_->kv, true, timeout, what, [&](kvEntry* entry) {
        keys.emplace_back(kvEntry_Key(entry));
        return keys.size() < limit;
    });
    return keys;
}

namespace {

/// The newest updated keys of a bucket while its updates are read in order: at most `limit`,
/// the oldest dropped once the newer ones alone reach `max_bytes`.
class NewestEntries {
  public:
    NewestEntries(std::size_t limit, std::size_t max_bytes)
        : limit_(limit), max_bytes_(max_bytes) {}

    void put(std::string key, std::uint64_t sequence, std::string value) {
        erase(key);
        bytes_ += value.size();
        by_sequence_.emplace(sequence, key);
        by_key_.emplace(std::move(key), std::make_pair(sequence, std::move(value)));
        while (!by_sequence_.empty() &&
               (by_key_.size() > limit_ ||
                bytes_ - value_of(by_sequence_.begin()->second).size() >= max_bytes_))
            erase(by_sequence_.begin()->second);
    }
    void erase(const std::string& key) {
        auto found = by_key_.find(key);
        if (found == by_key_.end()) return;
        bytes_ -= found->second.second.size();
        by_sequence_.erase(found->second.first);
        by_key_.erase(found);
    }
    std::size_t size() const { return by_key_.size(); }
    void clear() {
        by_key_.clear();
        by_sequence_.clear();
        bytes_ = 0;
    }
    /// Oldest update first.
    std::vector<std::pair<std::string, std::string>> take() {
        std::vector<std::pair<std::string, std::string>> out;
        out.reserve(by_key_.size());
        for (const auto& [sequence, key] : by_sequence_)
            out.emplace_back(key, std::move(by_key_[key].second));
        clear();
        return out;
    }

  private:
    const std::string& value_of(const std::string& key) { return by_key_[key].second; }

    std::size_t limit_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::map<std::string, std::pair<std::uint64_t, std::string>> by_key_;
    std::map<std::uint64_t, std::string> by_sequence_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> KeyValue::entries(std::size_t limit,
                                                                   std::size_t max_bytes,
                                                                   milliseconds timeout) {
    const std::string what = "read the entries of " + impl_->bucket;
    impl_->connection->require_connected(what);
    if (limit == 0) return {};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        const auto ms =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now())
                .count();
        if (ms <= 0) fail(NATS_TIMEOUT, what);
        return static_cast<std::int64_t>(ms);
    };

    // The bucket's stream holds each key's newest `history` updates in the order they were
    // made: its tail holds the most recently updated keys. A watcher of every key would start
    // with the least recently updated ones, so read the tail instead, from a window of the
    // last limit * history sequence numbers, doubled while it holds fewer keys than wanted
    // (replaced updates and deletions leave gaps) until it reaches the stream's start.
    const std::string stream = "KV_" + impl_->bucket;
    jsStreamInfo* raw_info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetStreamInfo(&raw_info, impl_->connection->js, stream.c_str(), nullptr, &jerr);
    if (s != NATS_OK) fail(s, what, jerr);
    const std::uint64_t last = raw_info->State.LastSeq;
    const std::uint64_t first = raw_info->State.FirstSeq;
    const std::uint64_t messages = raw_info->State.Msgs;
    const auto history =
        static_cast<std::uint64_t>(std::max<std::int64_t>(1, raw_info->Config->MaxMsgsPerSubject));
    jsStreamInfo_Destroy(raw_info);
    if (messages == 0 || last < first) return {};

    const std::string prefix = "$KV." + impl_->bucket + ".";
    NewestEntries newest(limit, max_bytes);
    std::uint64_t window = std::min<std::uint64_t>(limit, 1u << 20) * history;
    for (;;) {
        const std::uint64_t start = last - first + 1 > window ? last - window + 1 : first;
        jsSubOptions options;
        jsSubOptions_Init(&options);
        options.Stream = stream.c_str();
        options.Ordered = true;
        options.Config.DeliverPolicy = js_DeliverByStartSequence;
        options.Config.OptStartSeq = start;
        natsSubscription* raw_sub = nullptr;
        jerr = static_cast<jsErrCode>(0);
        s = js_SubscribeSync(&raw_sub, impl_->connection->js, (prefix + ">").c_str(), nullptr,
                             &options, &jerr);
        if (s != NATS_OK) fail(s, what, jerr);
        std::unique_ptr<natsSubscription, decltype(&natsSubscription_Destroy)> sub(
            raw_sub, natsSubscription_Destroy);
        for (;;) {
            natsMsg* raw_msg = nullptr;
            check(natsSubscription_NextMsg(&raw_msg, sub.get(), left()), what);
            std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)> msg(raw_msg, natsMsg_Destroy);
            jsMsgMetaData* raw_meta = nullptr;
            check(natsMsg_GetMetaData(&raw_meta, msg.get()), what);
            std::unique_ptr<jsMsgMetaData, decltype(&jsMsgMetaData_Destroy)> meta(
                raw_meta, jsMsgMetaData_Destroy);
            const std::string_view subject = natsMsg_GetSubject(msg.get());
            if (subject.substr(0, prefix.size()) == prefix) {
                std::string key(subject.substr(prefix.size()));
                const char* operation = nullptr;
                if (natsMsgHeader_Get(msg.get(), "KV-Operation", &operation) == NATS_OK &&
                    operation != nullptr) {
                    newest.erase(key);  // DEL or PURGE
                } else {
                    const char* data = natsMsg_GetData(msg.get());
                    const int length = natsMsg_GetDataLength(msg.get());
                    newest.put(std::move(key), meta->Sequence.Stream,
                               std::string(data ? data : "", data ? length : 0));
                }
            }
            // Caught up: the last update there was when we asked, or nothing more waits.
            if (meta->Sequence.Stream >= last || meta->NumPending == 0) break;
        }
        if (newest.size() >= limit || start == first) break;
        newest.clear();  // read again from further back
        window *= 2;
    }
    return newest.take();
}

KeyValue JetStream::ensure_bucket(const std::string& name, milliseconds ttl, int history,
                                  std::int64_t max_values) {
    const std::string what = "create bucket " + name;
    if (history < 1 || history > 64) throw QueueError(what + ": history must be 1..64");
    impl_->require_connected(what);
    auto bucket = std::make_shared<KeyValue::Impl>();
    bucket->connection = impl_;
    bucket->bucket = name;

    const std::string stream = "KV_" + name;
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, impl_->js, stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = name.c_str();
        kc.History = static_cast<uint8_t>(history);
        kc.TTL = to_ns(ttl);
        kc.StorageType = js_FileStorage;
        check(js_CreateKeyValue(&bucket->kv, impl_->js, &kc), what);
        if (max_values <= 0) return KeyValue(std::move(bucket));
        // The bound is the stream's, which kvConfig does not reach: set it below.
        kvStore_Destroy(bucket->kv);
        bucket->kv = nullptr;
        jerr = static_cast<jsErrCode>(0);
        s = js_GetStreamInfo(&info, impl_->js, stream.c_str(), nullptr, &jerr);
    }
    if (s != NATS_OK) fail(s, what, jerr);
    const std::int64_t wanted_max = max_values > 0 ? max_values : -1;
    // A bounded bucket makes room by discarding its oldest values, never by refusing new ones.
    const jsDiscardPolicy wanted_discard = max_values > 0 ? js_DiscardOld : info->Config->Discard;
    if (info->Config->MaxAge != to_ns(ttl) || info->Config->MaxMsgsPerSubject != history ||
        info->Config->MaxMsgs != wanted_max || info->Config->Discard != wanted_discard) {
        jsStreamConfig sc = *info->Config;  // Borrows info's strings until it is destroyed.
        sc.MaxAge = to_ns(ttl);
        sc.MaxMsgsPerSubject = history;
        sc.MaxMsgs = wanted_max;
        sc.Discard = wanted_discard;
        // The duplicate window may not exceed the age limit.
        const std::int64_t two_minutes = to_ns(std::chrono::minutes(2));
        sc.Duplicates = (sc.MaxAge > 0 && sc.MaxAge < two_minutes) ? sc.MaxAge : two_minutes;
        jsStreamInfo* updated = nullptr;
        s = js_UpdateStream(&updated, impl_->js, &sc, nullptr, &jerr);
        jsStreamInfo_Destroy(updated);
    }
    jsStreamInfo_Destroy(info);
    if (s != NATS_OK) fail(s, what, jerr);
    check(js_KeyValue(&bucket->kv, impl_->js, name.c_str()), what);
    return KeyValue(std::move(bucket));
}

}  // namespace faas::queue
