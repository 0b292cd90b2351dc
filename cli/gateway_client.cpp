// The gateway client: one libcurl easy handle per call (the CLI makes a handful of calls, so a
// pool would buy nothing), no redirects followed, answers bounded in size.
#include "gateway_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "cli_error.h"

namespace faas::cli {
namespace {

/// The most of an answer kept in memory: 64 MiB, the gateway's own max_response_bytes.
constexpr size_t kMaxBodyBytes = size_t{64} << 20;
/// Connecting is quick or not at all: a gateway that has not accepted in 10 s is not there.
constexpr std::chrono::milliseconds kMaxConnectTimeout = std::chrono::seconds(10);

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw CliError("cannot initialise libcurl");
    });
}

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderSlist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

/// What the callbacks fill in while curl runs.
struct Transfer {
    HttpResponse response;
    bool too_large = false;
    const std::function<bool(std::string_view)>* sink = nullptr;  ///< Streaming: body goes here.
    std::string* error_body = nullptr;  ///< Streaming: a non-2xx body goes here instead.
    CURL* curl = nullptr;
    bool stopped_by_sink = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::string_view line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
        transfer.response.headers.clear();  // a new response (after 100 Continue)
        return line.size();
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos)
        transfer.response.headers[lower(trim(line.substr(0, colon)))] =
            std::string(trim(line.substr(colon + 1)));
    return line.size();
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::string_view chunk(data, size * count);
    if (transfer.sink) {
        long status = 0;
        curl_easy_getinfo(transfer.curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if ((*transfer.sink)(chunk)) return chunk.size();
            transfer.stopped_by_sink = true;
            return 0;  // curl stops with CURLE_WRITE_ERROR, which stream() expects
        }
        // An error's message: kept small, it is one line for the user.
        if (transfer.error_body && transfer.error_body->size() < 64 * 1024)
            transfer.error_body->append(chunk.substr(0, 64 * 1024 - transfer.error_body->size()));
        return chunk.size();
    }
    if (transfer.response.body.size() + chunk.size() > kMaxBodyBytes) {
        transfer.too_large = true;
        return 0;
    }
    transfer.response.body.append(chunk);
    return chunk.size();
}

/// A configured easy handle for one call; `headers` must outlive it.
CurlHandle make_handle(const std::string& url, std::string_view method, std::string_view body,
                       const HeaderList& extra, const std::optional<BasicCredentials>& credentials,
                       std::chrono::milliseconds connect_timeout, HeaderSlist& headers,
                       char* error_buffer, Transfer& transfer) {
    init_curl_once();
    CurlHandle curl(curl_easy_init());
    if (!curl) throw CliError("cannot initialise libcurl");
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(connect_timeout, kMaxConnectTimeout).count()));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    transfer.curl = h;

    const std::string verb(method);
    if (verb == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (verb == "GET" && body.empty()) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, verb.c_str());
        // POST and PUT always carry a body (Content-Length: 0 when empty); others only when given.
        if (!body.empty() || verb == "POST" || verb == "PUT") {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
    }

    bool has_content_type = false;
    auto append = [&](const std::string& line) {
        curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
        if (!grown) throw CliError("out of memory building a request");
        headers.release();
        headers.reset(grown);
    };
    for (const auto& [name, value] : extra) {
        if (lower(name) == "content-type") has_content_type = true;
        // "Name;" is curl's way to send a header with an empty value.
        append(value.empty() ? name + ";" : name + ": " + value);
    }
    if (!has_content_type) append("Content-Type:");  // not curl's form-urlencoded default
    append("Expect:");                               // no 100-continue round trip for large bodies
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    if (credentials) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(h, CURLOPT_USERNAME, credentials->user.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, credentials->password.c_str());
    }
    return curl;
}

[[noreturn]] void throw_unreachable(const std::string& base_url, CURLcode code,
                                    const char* error_buffer) {
    const std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    throw CliError("cannot reach the gateway at " + base_url + ": " + detail);
}

}  // namespace

GatewayClient::GatewayClient(std::string base_url, std::optional<BasicCredentials> credentials,
                             std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), credentials_(std::move(credentials)), timeout_(timeout) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

HttpResponse GatewayClient::request(std::string_view method, std::string_view target,
                                    std::string_view body, const HeaderList& headers) const {
    Transfer transfer;
    HeaderSlist header_list;
    char error_buffer[CURL_ERROR_SIZE] = {};
    auto curl = make_handle(base_url_ + std::string(target), method, body, headers, credentials_,
                            timeout_, header_list, error_buffer, transfer);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    const CURLcode code = curl_easy_perform(curl.get());
    if (transfer.too_large)
        throw CliError("the answer from " + base_url_ + std::string(target) +
                       " is larger than 64 MiB; refused");
    if (code != CURLE_OK) throw_unreachable(base_url_, code, error_buffer);
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &transfer.response.status);
    return std::move(transfer.response);
}

long GatewayClient::stream(std::string_view method, std::string_view target,
                           const std::function<bool(std::string_view)>& sink,
                           std::string* error_body) const {
    Transfer transfer;
    transfer.sink = &sink;
    transfer.error_body = error_body;
    HeaderSlist header_list;
    char error_buffer[CURL_ERROR_SIZE] = {};
    auto curl = make_handle(base_url_ + std::string(target), method, {}, {}, credentials_, timeout_,
                            header_list, error_buffer, transfer);
    const CURLcode code = curl_easy_perform(curl.get());
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.stopped_by_sink))
        throw_unreachable(base_url_, code, error_buffer);
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    return status;
}

void expect_success(const HttpResponse& response, std::string_view what,
                    const GatewayClient& client) {
    if (response.status >= 200 && response.status < 300) return;
    const std::string& url = client.base_url();
    if (response.status == 401) {
        if (client.has_credentials())
            throw CliError("unauthorized: the gateway at " + url +
                           " refused the saved credentials: run faas login -g " + url);
        throw CliError("unauthorized: the gateway at " + url +
                       " needs credentials: run faas login -g " + url);
    }
    std::string_view message = trim(response.body);
    message = message.substr(0, message.find('\n'));
    message = trim(message.substr(0, 500));
    std::string text(what);
    if (message.empty())
        text += ": the gateway answered " + std::to_string(response.status);
    else
        text += ": " + std::string(message) + " (" + std::to_string(response.status) + ")";
    throw CliError(text);
}

}  // namespace faas::cli
