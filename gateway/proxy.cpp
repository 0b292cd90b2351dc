// libcurl forwarding with pooled easy handles.
#include "proxy.h"

#include <curl/curl.h>

#include <cctype>
#include <stdexcept>

namespace faas::gateway {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void append(Slist& list, const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (!next) throw std::bad_alloc();
    (void)list.release();
    list.reset(next);
}

struct Transfer {
    ProxyResult* result;
    std::uint64_t max_bytes;
    bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    if (transfer.result->body.size() + bytes > transfer.max_bytes) {
        transfer.too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    transfer.result->body.append(data, bytes);
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.substr(0, 5) == "HTTP/") {
        // A new status line (after a 100 Continue, say): earlier headers were interim.
        transfer.result->headers.clear();
        return bytes;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bytes;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    transfer.result->headers.emplace_back(std::string(name), std::string(value));
    return bytes;
}

void global_init_once() {
    static const bool initialised = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("curl_global_init failed");
        return true;
    }();
    (void)initialised;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
    for (std::string_view hop :
         {"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
          "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
          "Host", "Expect"})
        if (iequals(name, hop)) return true;
    return false;
}

struct Proxy::Handle {
    struct Deleter {
        void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
    };
    std::unique_ptr<CURL, Deleter> curl;
};

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
    handle->curl.reset(curl_easy_init());
    if (!handle->curl) throw std::bad_alloc();
    return handle;
}

void Proxy::release(std::unique_ptr<Handle> handle) {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

ProxyResult Proxy::forward(const Endpoint& endpoint, const ProxyRequest& request) {
    ProxyResult result;
    auto handle = acquire();
    CURL* curl = handle->curl.get();
    // Reset clears options but keeps the handle's live connections: the point of the pool.
    curl_easy_reset(curl);

    std::string url =
        "http://" + endpoint.host + ":" + std::to_string(endpoint.port) + request.path;
    Slist headers;
    bool has_accept = false;
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
        if (iequals(name, "Accept")) has_accept = true;
        if (iequals(name, "Content-Type")) has_content_type = true;
        append(headers, name + ": " + value);
    }
    // Keep curl from adding headers the client did not send, and from waiting for a
    // 100 Continue the watchdog never sends.
    if (!has_accept) append(headers, "Accept:");
    if (!has_content_type) append(headers, "Content-Type:");
    append(headers, "Expect:");

    Transfer transfer{&result, options_.max_response_bytes};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(
        curl, CURLOPT_TIMEOUT_MS,
        static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::min(options_.connect_timeout, options_.timeout))
                                           .count()));
    // Below the replicas' 5 s keep-alive: never reuse a connection the server is closing.
    curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 3L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);

    const bool has_body = request.body && !request.body->empty();
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET" && !has_body) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        if (has_body || request.method == "POST" || request.method == "PUT" ||
            request.method == "PATCH") {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body ? request.body->size() : 0));
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body ? request.body->data() : "");
        }
    }

    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        result.status = static_cast<int>(status);
        result.outcome = ProxyOutcome::kOk;
    } else if (transfer.too_large) {
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
