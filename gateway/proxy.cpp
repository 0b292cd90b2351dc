// libcurl forwarding with pooled handles, each an easy handle in its own multi handle that this
// file drives through the socket interface.
//
// Why not curl_easy_perform: it polls a wake-up socket before doing anything, and after every
// wake-up it polls the connection again to learn what the poll that woke it already said.
// Driving curl_multi_socket_action ourselves passes readiness along (CURL_CSELECT_IN), which
// saves two poll(2) calls a request. Options that never change are set once per handle, so
// there is no curl_easy_reset and no re-parsing of them per call.
#include "proxy.h"

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>

namespace faas::gateway {
namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

void global_init_once() {
    static const bool initialised = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("curl_global_init failed");
        return true;
    }();
    (void)initialised;
}

long milliseconds(std::chrono::nanoseconds d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
    // Checked for every header of every call: compare only names of a matching length.
    switch (name.size()) {
        case 2:
            return iequals(name, "TE");
        case 4:
            return iequals(name, "Host");
        case 6:
            return iequals(name, "Expect");
        case 7:
            return iequals(name, "Upgrade") || iequals(name, "Trailer");
        case 10:
            return iequals(name, "Connection") || iequals(name, "Keep-Alive");
        case 14:
            return iequals(name, "Content-Length");
        case 16:
            return iequals(name, "Proxy-Connection");
        case 17:
            return iequals(name, "Transfer-Encoding");
        case 18:
            return iequals(name, "Proxy-Authenticate");
        case 19:
            return iequals(name, "Proxy-Authorization");
        default:
            return false;
    }
}

struct Proxy::Handle {
    struct EasyDeleter {
        void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
    };
    struct MultiDeleter {
        void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
    };
    // Declared before `easy` so that it is destroyed after it: an easy handle must leave its
    // multi handle first (the destructor removes it).
    std::unique_ptr<CURLM, MultiDeleter> multi;
    std::unique_ptr<CURL, EasyDeleter> easy;

    // The call in progress, for the callbacks.
    ProxyResult* result = nullptr;
    std::uint64_t max_bytes = 0;
    bool too_large = false;

    // What curl asked to be told about (socket callback) and when (timer callback).
    struct Watch {
        curl_socket_t fd;
        int what;
    };
    std::vector<Watch> watches;  ///< Kept in step with curl across calls, never cleared here.
    std::vector<pollfd> poll_fds;
    bool timer_armed = false;
    std::chrono::steady_clock::time_point timer_at;

    // Reused across calls: the URL and the header lines, kept as one buffer and a node array
    // that is handed to CURLOPT_HTTPHEADER as a list, so building them allocates only while
    // they grow.
    std::string url;
    std::string method;
    std::string header_text;
    std::vector<std::size_t> header_offsets;
    std::vector<curl_slist> header_nodes;

    ~Handle() {
        if (multi && easy) curl_multi_remove_handle(multi.get(), easy.get());
    }
};

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& handle = *static_cast<Proxy::Handle*>(user);
    std::size_t bytes = size * count;
    std::string& body = handle.result->body;
    if (body.size() + bytes > handle.max_bytes) {
        handle.too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    body.append(data, bytes);
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& handle = *static_cast<Proxy::Handle*>(user);
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
        if (error == std::errc() && length <= handle.max_bytes)
            handle.result->body.reserve(static_cast<std::size_t>(length));
    }
    handle.result->headers.emplace_back(std::string(name), std::string(value));
    return bytes;
}

int on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
    auto& watches = static_cast<Proxy::Handle*>(user)->watches;
    auto it = std::find_if(watches.begin(), watches.end(),
                           [fd](const Proxy::Handle::Watch& w) { return w.fd == fd; });
    if (what == CURL_POLL_REMOVE) {
        if (it != watches.end()) watches.erase(it);
    } else if (it != watches.end()) {
        it->what = what;
    } else {
        watches.push_back({fd, what});
    }
    return 0;
}

int on_timer(CURLM*, long timeout_ms, void* user) {
    auto& handle = *static_cast<Proxy::Handle*>(user);
    handle.timer_armed = timeout_ms >= 0;
    if (handle.timer_armed)
        handle.timer_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
}

}  // namespace

Proxy::Proxy(ProxyOptions options) : options_(options) {
    global_init_once();
}

Proxy::~Proxy() = default;

std::unique_ptr<Proxy::Handle> Proxy::acquire() {
    {
        std::lock_guard lock(pool_mutex_);
        if (!idle_.empty()) {
            auto handle = std::move(idle_.back());
            idle_.pop_back();
            return handle;
        }
    }
    auto handle = std::make_unique<Handle>();
    handle->multi.reset(curl_multi_init());
    handle->easy.reset(curl_easy_init());
    if (!handle->multi || !handle->easy) throw std::bad_alloc();
    CURLM* multi = handle->multi.get();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, handle.get());
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, handle.get());

    // Everything that is the same for every call, set once for the life of the handle.
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
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, handle.get());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, handle.get());
    return handle;
}

void Proxy::release(std::unique_ptr<Handle> handle) {
    // Buffers grown by one large request are not kept for the life of the pool.
    constexpr std::size_t kKeep = 16 << 10;
    if (handle->header_text.capacity() > kKeep) std::string().swap(handle->header_text);
    if (handle->url.capacity() > kKeep) std::string().swap(handle->url);
    handle->result = nullptr;
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

namespace {

// Runs the transfer added to `multi` until it ends; returns its result code. Bounded: libcurl
// ends the transfer at CURLOPT_TIMEOUT_MS, and `deadline` (a second later) ends the loop even
// if it did not.
CURLcode run_transfer(Proxy::Handle& handle, std::chrono::steady_clock::time_point deadline) {
    CURLM* multi = handle.multi.get();
    int running = 1;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    auto& fds = handle.poll_fds;
    while (running > 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return CURLE_OPERATION_TIMEDOUT;
        auto wait = deadline - now;
        if (handle.timer_armed)
            wait = std::min<std::chrono::nanoseconds>(wait, handle.timer_at - now);
        if (wait <= std::chrono::nanoseconds::zero() && handle.timer_armed) {
            handle.timer_armed = false;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            continue;
        }
        const std::size_t count = handle.watches.size();
        fds.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            const auto& watch = handle.watches[i];
            fds[i].fd = watch.fd;
            fds[i].events = static_cast<short>((watch.what & CURL_POLL_IN ? POLLIN : 0) |
                                               (watch.what & CURL_POLL_OUT ? POLLOUT : 0));
            fds[i].revents = 0;
        }
        // Round up: a timer 0.4 ms away must not become a busy loop of zero-timeout polls.
        auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
        int ready =
            ::poll(fds.data(), count, static_cast<int>(std::clamp<long long>(wait_ms, 0, 1000)));
        if (ready < 0) {
            if (errno == EINTR) continue;
            return CURLE_RECV_ERROR;
        }
        if (ready == 0) {
            if (handle.timer_armed && std::chrono::steady_clock::now() >= handle.timer_at) {
                handle.timer_armed = false;
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            }
            continue;
        }
        for (std::size_t i = 0; i < count && running > 0; ++i) {
            const short revents = fds[i].revents;
            if (!revents) continue;
            int mask = 0;
            if (revents & (POLLIN | POLLHUP | POLLERR)) mask |= CURL_CSELECT_IN;
            if (revents & (POLLOUT | POLLHUP | POLLERR)) mask |= CURL_CSELECT_OUT;
            if (revents & (POLLERR | POLLNVAL)) mask |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi, fds[i].fd, mask, &running);
        }
    }
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left))
        if (message->msg == CURLMSG_DONE) return message->data.result;
    return CURLE_RECV_ERROR;
}

}  // namespace

ProxyResult Proxy::forward(const Endpoint& endpoint, const ProxyRequest& request) {
    ProxyResult result;
    auto handle = acquire();
    CURL* curl = handle->easy.get();
    handle->result = &result;
    handle->max_bytes = options_.max_response_bytes;
    handle->too_large = false;

    char port[8];
    auto port_end = std::to_chars(port, port + sizeof port, endpoint.port).ptr;
    std::string& url = handle->url;
    url.assign("http://")
        .append(endpoint.host)
        .append(":")
        .append(port, port_end)
        .append(request.path);

    // Header lines, each NUL-terminated in one buffer; list nodes point into it once it has
    // stopped growing.
    std::string& text = handle->header_text;
    auto& offsets = handle->header_offsets;
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
    auto& nodes = handle->header_nodes;
    nodes.resize(offsets.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].data = text.data() + offsets[i];
        nodes[i].next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    }

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nodes.data());

    // The method, set in full every time since the handle keeps the previous call's options:
    // HTTPGET clears a previous POST or HEAD; CUSTOMREQUEST is set or cleared.
    const bool has_body = request.body && !request.body->empty();
    const std::string_view method = request.method;
    if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "GET" && !has_body) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (has_body || method == "POST" || method == "PUT" || method == "PATCH") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body ? request.body->size() : 0));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body ? request.body->data() : "");
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, handle->method.assign(method).c_str());
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, handle->method.assign(method).c_str());
    }

    CURLcode code = CURLE_FAILED_INIT;
    if (curl_multi_add_handle(handle->multi.get(), curl) == CURLM_OK) {
        code = run_transfer(
            *handle, std::chrono::steady_clock::now() + options_.timeout + std::chrono::seconds(1));
        curl_multi_remove_handle(handle->multi.get(), curl);
    }
    // The list points into buffers the handle keeps: it must not outlive this call in curl.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));

    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        result.status = static_cast<int>(status);
        result.outcome = ProxyOutcome::kOk;
    } else if (handle->too_large) {
        result.outcome = ProxyOutcome::kTooLarge;
        result.error = "response larger than max_response_bytes";
    } else if (code == CURLE_COULDNT_CONNECT) {
        result.outcome = ProxyOutcome::kRefused;
        result.error = curl_easy_strerror(code);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        result.outcome = ProxyOutcome::kTimeout;
        result.error = curl_easy_strerror(code);
    } else {
        result.outcome = ProxyOutcome::kFailed;
        result.error = curl_easy_strerror(code);
    }
    if (result.outcome != ProxyOutcome::kOk) {
        result.headers.clear();
        result.body.clear();
    }
    release(std::move(handle));
    return result;
}

}  // namespace faas::gateway
