// Storing asynchronous calls, and their records.
#include "async/async_calls.h"

#include "http_text.h"
#include "invoke_handler.h"
#include "log.h"
#include "names.h"
#include "queue_names.h"

namespace faas::gateway {
namespace {

/// How long a function's queue name is remembered: a redeploy with another queue is seen
/// within this.
constexpr auto kQueueMemory = std::chrono::seconds(5);

// Headers the stored call does not carry: the worker's own request frames itself, and the
// call id travels in the message.
bool is_dropped_header(std::string_view name) {
    return is_hop_by_hop(name) || iequals(name, "Host") || iequals(name, "Content-Length") ||
           iequals(name, "Expect") || iequals(name, "X-Call-Id");
}

/// An absolute http(s) URL with a host, no spaces or control characters.
bool is_callback_url(std::string_view url) {
    if (url.size() > queue::kMaxCallbackUrlBytes) return false;
    std::string_view rest;
    if (url.rfind("http://", 0) == 0)
        rest = url.substr(7);
    else if (url.rfind("https://", 0) == 0)
        rest = url.substr(8);
    else
        return false;
    if (rest.empty() || rest[0] == '/' || rest[0] == ':' || rest[0] == '?' || rest[0] == '#')
        return false;
    for (unsigned char c : url)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace

AsyncCalls::AsyncCalls(FunctionProvider& provider, std::unique_ptr<CallQueue> queue,
                       std::string why, AsyncCallsOptions options)
    : provider_(provider),
      queue_(std::move(queue)),
      why_(std::move(why)),
      options_(std::move(options)) {}

CallQueue& AsyncCalls::queue() const {
    if (!queue_) throw Unavailable("Asynchronous calls are not available: " + why_);
    return *queue_;
}

std::string AsyncCalls::queue_of(const std::string& function) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(queues_mutex_);
        if (auto it = queues_.find(function); it != queues_.end() && it->second.until > now)
            return it->second.queue;
    }
    std::string name = queue::kDefaultQueue;
    if (auto record = provider_.get(function)) {
        // An annotation in OpenFaaS; a label is taken too.
        const auto& raw = record->deployment.raw;
        if (auto annotations = raw.find("annotations");
            annotations != raw.end() && annotations->is_object() &&
            annotations->contains(queue::kQueueLabel) &&
            (*annotations)[queue::kQueueLabel].is_string())
            name = (*annotations)[queue::kQueueLabel].get<std::string>();
        else if (auto it = record->deployment.labels.find(queue::kQueueLabel);
                 it != record->deployment.labels.end())
            name = it->second;
    }
    if (!queue::is_valid_queue_name(name))
        throw BadRequest("function " + function + " names the queue '" + name + "' (" +
                         queue::kQueueLabel + "): use 1 to 64 of A-Z a-z 0-9 - _");
    std::lock_guard lock(queues_mutex_);
    queues_[function] = KnownQueue{name, now + kQueueMemory};
    return name;
}

std::string AsyncCalls::enqueue(const Request& request) {
    auto route =
        parse_function_target(request.target(), options_.served_namespace, "/async-function/");
    if (!route || !route->name.ref) {
        auto error = route ? route->name.error : RouteError::kNoName;
        if (error == RouteError::kOtherNamespace)
            throw NotFound("Namespace not served by this gateway.");
        throw BadRequest("Provide a valid function name: /async-function/<name>.");
    }
    const std::string function = route->name.ref->name;
    if (!provider_.resolve(function).exists)
        throw NotFound("Cannot find service: " + function + ".");

    queue::CallMessage message;
    message.function = function;
    std::string_view client_id = request.header("X-Call-Id");
    if (!client_id.empty() && !queue::is_valid_call_id(client_id))
        throw BadRequest("X-Call-Id must be 1 to 128 of A-Z a-z 0-9 - _");
    message.call_id = client_id.empty() ? new_uuid() : std::string(client_id);
    if (std::string_view callback = request.header("X-Callback-Url"); !callback.empty()) {
        if (!is_callback_url(callback))
            throw BadRequest("X-Callback-Url must be an absolute http:// or https:// URL");
        message.callback_url = std::string(callback);
    }
    if (request.body.size() > options_.max_async_bytes)
        throw PayloadTooLarge("The body of an asynchronous call may be at most " +
                              std::to_string(options_.max_async_bytes) +
                              " bytes (max_async_bytes).");
    message.keep_result = iequals(request.header("X-Keep-Result"), "true");
    message.method = request.method();
    const std::string& upstream = route->upstream_path;
    const auto question = upstream.find('?');
    message.path = upstream.substr(0, question);
    if (question != std::string::npos) message.query = upstream.substr(question + 1);
    for (const auto& [name, value] : request.head->headers)
        if (!is_dropped_header(name)) message.headers.emplace_back(name, value);
    message.body = std::string(request.body);
    message.enqueued_at = std::chrono::system_clock::now();
    message.queue = queue_of(function);

    try {
        queue().enqueue(message, client_id.empty());
    } catch (const queue::BadMessage& e) {
        throw BadRequest(std::string("Cannot queue this call: ") + e.what());
    } catch (const queue::QueueUnavailable& e) {
        throw Unavailable(std::string("The queue is unreachable, nothing was stored: ") + e.what());
    } catch (const queue::QueueError& e) {
        throw Unavailable(std::string("The queue refused the call, nothing was stored: ") +
                          e.what());
    }
    if (options_.on_queued) options_.on_queued(message.queue);
    return message.call_id;
}

queue::CallRecord AsyncCalls::get(const std::string& call_id) {
    if (!queue::is_valid_call_id(call_id)) throw NotFound("call " + call_id + " not found");
    try {
        auto record = queue().record(call_id);
        if (!record) throw NotFound("call " + call_id + " not found");
        return *record;
    } catch (const queue::QueueError& e) {
        throw Unavailable(std::string("The queue is unreachable: ") + e.what());
    }
}

std::vector<queue::CallRecord> AsyncCalls::list(const std::string& function,
                                                std::optional<queue::CallState> state,
                                                std::size_t limit) {
    try {
        return queue().records(function, state, limit);
    } catch (const queue::QueueError& e) {
        throw Unavailable(std::string("The queue is unreachable: ") + e.what());
    }
}

queue::CallRecord AsyncCalls::cancel(const std::string& call_id) {
    if (!queue::is_valid_call_id(call_id)) throw NotFound("call " + call_id + " not found");
    std::optional<queue::CallRecord> record;
    try {
        record = queue().cancel(call_id);
    } catch (const queue::QueueError& e) {
        throw Unavailable(std::string("The queue is unreachable: ") + e.what());
    }
    if (!record) throw NotFound("call " + call_id + " not found");
    if (record->state != queue::CallState::kCancelled)
        throw Conflict("call " + call_id + " is " + std::string(queue::state_name(record->state)) +
                       ": only a queued call can be cancelled");
    return *record;
}

}  // namespace faas::gateway
