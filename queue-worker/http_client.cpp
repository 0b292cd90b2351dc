// HTTP over libcurl's easy interface.
#include "http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <stdexcept>

namespace faas::queue_worker {
namespace {

void ensure_curl_initialised() {
    // A function-local static: once, thread-safely, before the first handle.
    static const bool initialised = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw std::runtime_error("curl_global_init failed");
        return true;
    }();
    (void)initialised;
}

struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                             text.back() == '\n'))
        text.remove_suffix(1);
    return text;
}

bool has_header(const queue::HeaderList& headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& header) {
        return header.first.size() == name.size() &&
               std::equal(name.begin(), name.end(), header.first.begin(),
                          [](char a, char b) { return (a | 0x20) == (b | 0x20); });
    });
}

}  // namespace

struct HttpClient::Handle {
    struct EasyDeleter {
        void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
    };
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::uint64_t max_bytes = 0;
    HttpResponse* response = nullptr;  ///< The exchange in progress.

    static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
        auto& handle = *static_cast<Handle*>(self);
        const std::size_t bytes = size * count;
        if (handle.response->body.size() + bytes > handle.max_bytes) {
            handle.response->too_large = true;
            return 0;  // Aborts the transfer (CURLE_WRITE_ERROR).
        }
        handle.response->body.append(data, bytes);
        return bytes;
    }

    static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
        auto& handle = *static_cast<Handle*>(self);
        const std::size_t bytes = size * count;
        const std::string_view line(data, bytes);
        if (line.starts_with("HTTP/")) {
            handle.response->headers.clear();  // A new answer: a 100 Continue's are dropped.
            return bytes;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return bytes;  // The blank line.
        handle.response->headers.emplace_back(std::string(line.substr(0, colon)),
                                              std::string(trim(line.substr(colon + 1))));
        return bytes;
    }
};

HttpClient::HttpClient(std::uint64_t max_response_bytes) : handle_(std::make_unique<Handle>()) {
    ensure_curl_initialised();
    handle_->easy.reset(curl_easy_init());
    if (!handle_->easy) throw std::bad_alloc();
    handle_->max_bytes = max_response_bytes;
    CURL* curl = handle_->easy.get();
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    // Dialled directly: no http_proxy or no_proxy from the environment, as the gateway does.
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    // Below the watchdog's and the gateway's keep-alive: never reuse a connection being closed.
    curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 3L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Handle::on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, handle_.get());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Handle::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, handle_.get());
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::send(const HttpRequest& request) {
    HttpResponse response;
    CURL* curl = handle_->easy.get();
    handle_->response = &response;

    Slist headers;
    auto add = [&](const std::string& line) {
        curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
        if (!grown) throw std::bad_alloc();
        (void)headers.release();
        headers.reset(grown);
    };
    for (const auto& [name, value] : request.headers)
        add(value.empty() ? name + ";" : name + ": " + value);  // "Name;" sends it empty.
    // Keep curl from adding headers the caller did not ask for, and from waiting for a
    // 100 Continue.
    if (!has_header(request.headers, "Accept")) add("Accept:");
    if (!has_header(request.headers, "Content-Type")) add("Content-Type:");
    add("Expect:");

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    const long timeout_ms = static_cast<long>(std::max<std::int64_t>(request.timeout.count(), 1));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));

    // The method, set in full every time since the handle keeps the previous exchange's.
    const bool has_body = !request.body.empty();
    curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET" && !has_body) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (has_body || request.method == "POST" || request.method == "PUT" ||
               request.method == "PATCH") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, has_body ? request.body.data() : "");
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const auto start = std::chrono::steady_clock::now();
    const CURLcode code = curl_easy_perform(curl);
    // The list dies with this call: curl must not keep pointing at it.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, static_cast<char*>(nullptr));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<char*>(nullptr));
    handle_->response = nullptr;

    response.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK) {
        response.status = static_cast<int>(status);
    } else if (response.too_large) {
        response.status = static_cast<int>(status);
        response.error = "answer larger than " + std::to_string(handle_->max_bytes) + " bytes";
        std::string().swap(response.body);
    } else {
        response.status = 0;
        response.error = curl_easy_strerror(code);
        response.headers.clear();
        std::string().swap(response.body);
    }
    return response;
}

}  // namespace faas::queue_worker
