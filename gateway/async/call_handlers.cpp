// The routes of asynchronous calls: thin parsing around AsyncCalls.
#include "admin_handlers.h"
#include "settings.h"

namespace faas::gateway {
namespace {

constexpr std::string_view kCallsPrefix = "/system/calls/";

std::string json_array(const std::vector<queue::CallRecord>& records) {
    std::string out = "[";
    for (const auto& record : records) {
        if (out.size() > 1) out += ',';
        out += queue::to_json(record);
    }
    return out + "]";
}

}  // namespace

AsyncCalls& AdminHandlers::async_calls() const {
    if (async_calls_ == nullptr)
        throw Unavailable("Asynchronous calls are off on this gateway (async_calls=false).");
    return *async_calls_;
}

Response AdminHandlers::enqueue_call(const Request& request) {
    auto call_id = async_calls().enqueue(request);
    Response response;
    response.status = 202;
    response.headers.emplace_back("X-Call-Id", call_id);
    return response;
}

Response AdminHandlers::list_calls(const Request& request) {
    check_namespace_param(request);
    std::string function;
    if (auto name = request.query("function"); name && !name->empty())
        function = function_in_path(*name);
    std::optional<queue::CallState> state;
    if (auto text = request.query("status"); text && !text->empty()) {
        state = queue::parse_state(*text);
        if (!state)
            throw BadRequest(
                "'status' must be one of queued, running, succeeded, failed, dead-lettered, "
                "cancelled");
    }
    std::size_t limit = 100;
    if (auto text = request.query("limit"); text && !text->empty()) {
        auto value = parse_int(*text);
        if (!value || *value < 1 || *value > 1000)
            throw BadRequest("'limit' must be a number from 1 to 1000");
        limit = static_cast<std::size_t>(*value);
    }
    return Response::json(200, json_array(async_calls().list(function, state, limit)));
}

Response AdminHandlers::get_call(const Request& request) {
    auto id = std::string(request.path().substr(kCallsPrefix.size()));
    return Response::json(200, queue::to_json(async_calls().get(id)));
}

Response AdminHandlers::cancel_call(const Request& request) {
    auto id = std::string(request.path().substr(kCallsPrefix.size()));
    return Response::json(200, queue::to_json(async_calls().cancel(id)));
}

}  // namespace faas::gateway
