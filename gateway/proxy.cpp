// libcurl forwarding with pooled easy handles. Options that never change are set once per
// handle, so a call sets only its URL, headers and method: no curl_easy_reset, no re-parsing.
// The event loops drive them through a multi handle each (async_proxy.cpp).
#include "proxy.h"

#include <curl/curl.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <stdexcept>

#include "curl_global.h"
#include "http_text.h"

namespace faas::gateway {
namespace {

long milliseconds(std::chrono::nanoseconds d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

struct CurlHandle {
    struct EasyDeleter {
        void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
    };
    std::unique_ptr<CURL, EasyDeleter> easy;

    std::chrono::steady_clock::time_point released;  ///< When it last went back to the pool.

    // The call in progress, for the callbacks.
    ProxyResult* result = nullptr;
    std::uint64_t max_bytes = 0;  ///< Set once, from ProxyOptions.
    MemoryBudget* budget = nullptr;
    bool too_large = false;
    bool over_budget = false;

    // Reused across calls: the URL and the header lines, kept as one buffer and a node array
    // that is handed to CURLOPT_HTTPHEADER as a list, so building them allocates only while
    // they grow.
    std::string url;
    std::string method;
    std::string header_text;
    std::vector<std::size_t> header_offsets;
    std::vector<curl_slist> header_nodes;
};

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& handle = *static_cast<CurlHandle*>(user);
    std::size_t bytes = size * count;
    std::string& body = handle.result->body;
    if (body.size() + bytes > handle.max_bytes) {
        handle.too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    // The budget counts what is allocated: grow the string in steps that are leased first.
    if (body.size() + bytes > body.capacity()) {
        const std::size_t want = std::min<std::size_t>(
            std::max(body.capacity() * 2, body.size() + bytes), handle.max_bytes);
        auto& reservation = handle.result->reservation;
        if (want > reservation.bytes() && !reservation.grow(want - reservation.bytes())) {
            handle.over_budget = true;
            return 0;
        }
        body.reserve(want);
    }
    body.append(data, bytes);
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& handle = *static_cast<CurlHandle*>(user);
    std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.substr(0, 5) == "HTTP/") {
        // A new status line (after a 100 Continue, say): earlier headers were interim.
        handle.result->headers.clear();
        return bytes;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bytes;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    if (iequals(name, "Content-Length")) {
        // Size the body once instead of growing it chunk by chunk (within the limit only).
        std::uint64_t length = 0;
        auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
        (void)end;
        auto& reservation = handle.result->reservation;
        if (error == std::errc() && length <= handle.max_bytes &&
            (length <= reservation.bytes() || reservation.grow(length - reservation.bytes())))
            handle.result->body.reserve(static_cast<std::size_t>(length));
    }
    handle.result->headers.emplace_back(std::string(name), std::string(value));
    return bytes;
}

}  // namespace

void CurlHandleDeleter::operator()(CurlHandle* handle) const {
    delete handle;
}

HandlePool::HandlePool(ProxyOptions options) : options_(options) {
    ensure_curl_initialised();
}

HandlePool::~HandlePool() = default;

CurlHandlePtr HandlePool::acquire() {
    if (!idle_.empty()) {
        auto handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
    }
    CurlHandlePtr handle(new CurlHandle);
    handle->easy.reset(curl_easy_init());
    if (!handle->easy) throw std::bad_alloc();

    // Everything that is the same for every call, set once for the life of the handle.
    handle->max_bytes = options_.max_response_bytes;
    handle->budget = options_.budget;
    CURL* curl = handle->easy.get();
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    // Replicas are dialled directly: no http_proxy or no_proxy from the environment (which
    // libcurl would otherwise also look up with getenv on every call).
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, milliseconds(options_.timeout));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     milliseconds(std::min(options_.connect_timeout, options_.timeout)));
    // Below the replicas' 5 s keep-alive: never reuse a connection the server is closing.
    curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 3L);
    // One page-sized receive buffer per handle, as nginx's proxy_buffer_size: libcurl's 16 KiB
    // default, times one handle per concurrent call, was 4 MiB of RSS at 256 connections.
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 8192L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, handle.get());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, handle.get());
    curl_easy_setopt(curl, CURLOPT_PRIVATE, handle.get());
    return handle;
}

void HandlePool::release(CurlHandlePtr handle) {
    // Buffers grown by one large request are not kept for the life of the pool.
    constexpr std::size_t kKeep = 16 << 10;
    if (handle->header_text.capacity() > kKeep) std::string().swap(handle->header_text);
    if (handle->url.capacity() > kKeep) std::string().swap(handle->url);
    handle->result = nullptr;
    const auto now = std::chrono::steady_clock::now();
    handle->released = now;
    std::vector<CurlHandlePtr> expired;
    {
        // A few of the coldest at a time, so no call pays for freeing a whole burst's worth.
        for (int i = 0; i < 4 && !idle_.empty() &&
                        now - idle_.front()->released > options_.idle_handle_lifetime;
             ++i) {
            expired.push_back(std::move(idle_.front()));
            idle_.pop_front();
        }
        if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
    }
    if (expired.empty()) return;
    expired.clear();
    // Hand the freed memory back to the system, at most every few seconds: glibc keeps holes
    // in its arenas otherwise, and RSS would stay at the peak of the last burst.
    static std::atomic<std::int64_t> last_trim{0};
    const std::int64_t seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::int64_t previous = last_trim.load(std::memory_order_relaxed);
    if (seconds - previous >= 5 &&
        last_trim.compare_exchange_strong(previous, seconds, std::memory_order_relaxed))
        ::malloc_trim(0);
}

std::size_t HandlePool::idle() {
    return idle_.size();
}

void* easy_handle(CurlHandle& handle) {
    return handle.easy.get();
}

void prepare_call(CurlHandle& handle, const Endpoint& endpoint, const ProxyRequest& request,
                  ProxyResult& result) {
    CURL* curl = handle.easy.get();
    handle.result = &result;
    handle.too_large = false;
    handle.over_budget = false;
    result.reservation = handle.budget ? Reservation(*handle.budget) : Reservation();

    char port[8];
    auto port_end = std::to_chars(port, port + sizeof port, endpoint.port).ptr;
    std::string& url = handle.url;
    url.assign("http://")
        .append(endpoint.host)
        .append(":")
        .append(port, port_end)
        .append(request.path);

    // Header lines, each NUL-terminated in one buffer; list nodes point into it once it has
    // stopped growing.
    std::string& text = handle.header_text;
    auto& offsets = handle.header_offsets;
    text.clear();
    offsets.clear();
    auto add_line = [&](std::string_view name, std::string_view value, bool empty_value) {
        offsets.push_back(text.size());
        text.append(name);
        text.append(empty_value ? ":" : ": ");
        text.append(value);
        text.push_back('\0');
    };
    bool has_accept = false;
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
        if (name.size() == 6 && iequals(name, "Accept")) has_accept = true;
        if (name.size() == 12 && iequals(name, "Content-Type")) has_content_type = true;
        add_line(name, value, false);
    }
    // Keep curl from adding headers the client did not send, and from waiting for a
    // 100 Continue the watchdog never sends.
    if (!has_accept) add_line("Accept", {}, true);
    if (!has_content_type) add_line("Content-Type", {}, true);
    add_line("Expect", {}, true);
    auto& nodes = handle.header_nodes;
    nodes.resize(offsets.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].data = text.data() + offsets[i];
        nodes[i].next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    }

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nodes.data());

    // The method, set in full every time since the handle keeps the previous call's options:
    // HTTPGET clears a previous POST or HEAD; CUSTOMREQUEST is set or cleared.
    const bool has_body = !request.body.empty();
    const std::string_view method = request.method;
    if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "GET" && !has_body) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (has_body || method == "POST" || method == "PUT" || method == "PATCH") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, has_body ? request.body.data() : "");
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, handle.method.assign(method).c_str());
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, handle.method.assign(method).c_str());
    }
}

void complete_call(CurlHandle& handle, int curl_code) {
    CURL* curl = handle.easy.get();
    ProxyResult& result = *handle.result;
    const auto code = static_cast<CURLcode>(curl_code);
    // The list points into buffers the handle keeps: it must not outlive this call in curl.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));

    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        result.status = static_cast<int>(status);
        result.outcome = ProxyOutcome::kOk;
    } else if (handle.over_budget) {
        result.outcome = ProxyOutcome::kOverBudget;
        result.error = "the gateway's memory budget for buffered bodies is spent";
    } else if (handle.too_large) {
        result.outcome = ProxyOutcome::kTooLarge;
        result.error = "response larger than max_response_bytes";
    } else if (code == CURLE_COULDNT_CONNECT) {
        result.outcome = ProxyOutcome::kRefused;
        result.error = curl_easy_strerror(code);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        // A replica that died without a word (its task IP gone from the overlay) times out the
        // connect: nothing was sent, so like a refusal it is safe to try the next replica.
        curl_off_t connected_after = 0;
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected_after);
        result.outcome = connected_after == 0 ? ProxyOutcome::kRefused : ProxyOutcome::kTimeout;
        result.error = curl_easy_strerror(code);
    } else {
        result.outcome = ProxyOutcome::kFailed;
        result.error = curl_easy_strerror(code);
    }
    if (result.outcome != ProxyOutcome::kOk) {
        result.headers.clear();
        std::string().swap(result.body);
        result.reservation.reset();
    }
    handle.result = nullptr;
}

}  // namespace faas::gateway
