// The Docker Engine API over its unix socket, with libcurl.
#include "provider/swarm/docker_client.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <stdexcept>

#include "curl_global.h"

namespace faas::gateway {
namespace {

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct MultiDeleter {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;

void append(Slist& list, const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (!next) throw std::bad_alloc();
    list.release();
    list.reset(next);
}

struct BufferSink {
    std::string* out;
    std::size_t limit;
    bool overflow = false;
};

std::size_t write_to_buffer(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<BufferSink*>(user);
    std::size_t bytes = size * count;
    if (sink->out->size() + bytes > sink->limit) {
        sink->overflow = true;
        return 0;
    }
    sink->out->append(data, bytes);
    return bytes;
}

struct StreamSink {
    const std::function<bool(std::string_view)>* on_data;
    const std::function<bool()>* keep_going;
    bool stopped = false;
};

std::size_t write_to_stream(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<StreamSink*>(user);
    std::size_t bytes = size * count;
    if (!(*sink->on_data)(std::string_view(data, bytes))) {
        sink->stopped = true;
        return 0;
    }
    return bytes;
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* sink = static_cast<StreamSink*>(user);
    if (!(*sink->keep_going)()) {
        sink->stopped = true;
        return 1;
    }
    return 0;
}

// Runs one transfer, asking `keep_going` after every wake-up and at least every 100 ms: the
// easy interface only calls its progress callback about once a second while the peer is
// silent, too slow for a build that must stop within 200 ms. Sets `stopped` when
// `keep_going` ended it; removing the handle mid-transfer closes the connection.
CURLcode perform_polled(CURL* curl, const std::function<bool()>& keep_going, bool& stopped) {
    MultiHandle multi(curl_multi_init());
    if (!multi) throw std::bad_alloc();
    if (curl_multi_add_handle(multi.get(), curl) != CURLM_OK) throw std::bad_alloc();
    struct Detach {
        CURLM* multi;
        CURL* curl;
        ~Detach() { curl_multi_remove_handle(multi, curl); }
    } detach{multi.get(), curl};
    for (;;) {
        int running = 0;
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK) return CURLE_FAILED_INIT;
        int queued = 0;
        while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued))
            if (message->msg == CURLMSG_DONE) return message->data.result;
        if (running == 0) return CURLE_OK;
        if (!keep_going()) {
            stopped = true;
            return CURLE_ABORTED_BY_CALLBACK;
        }
        if (curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr) != CURLM_OK)
            return CURLE_FAILED_INIT;
    }
}

bool names_content_type(const std::string& header) {
    static constexpr std::string_view kName = "content-type:";
    if (header.size() < kName.size()) return false;
    for (std::size_t i = 0; i < kName.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(header[i])) != kName[i]) return false;
    return true;
}

CurlHandle new_handle(const DockerClientOptions& options, const std::string& url,
                      std::chrono::milliseconds timeout) {
    CurlHandle curl(curl_easy_init());
    if (!curl) throw std::bad_alloc();
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, options.socket_path.c_str());
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return curl;
}

std::string transport_error(const DockerClientOptions& options, CURLcode code) {
    std::string what = curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) what = "no answer in time";
    return "Docker engine at " + options.socket_path + " unavailable: " + what;
}

}  // namespace

void throw_engine_error(const std::string& what, const DockerResponse& response) {
    std::string message = what + ": " + response.message();
    if (response.status == 404) throw NotFound(message);
    if (response.status == 409) throw AlreadyExists(message);
    if (response.status == 400) throw BadRequest(message);
    if (response.status == 503)
        throw DockerUnavailable(message + " (is this node a Swarm manager?)");
    throw ProviderUnavailable(message);
}

std::string DockerResponse::message() const {
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_object()) {
        if (auto it = parsed.find("message"); it != parsed.end() && it->is_string())
            return it->get<std::string>();
    }
    std::string text = body.substr(0, 300);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text.empty() ? "HTTP " + std::to_string(status) : text;
}

DockerClient::DockerClient(DockerClientOptions options) : options_(std::move(options)) {
    ensure_curl_initialised();
}

std::string DockerClient::url(const std::string& path) const {
    // The host part is ignored on a unix socket but must be a valid name for the Host header.
    return "http://docker/v" + options_.api_version + path;
}

DockerResponse DockerClient::request(const std::string& method, const std::string& path,
                                     const std::string* body,
                                     const std::vector<std::string>& extra_headers,
                                     std::chrono::milliseconds timeout) const {
    if (timeout.count() <= 0) timeout = options_.timeout;
    auto curl = new_handle(options_, url(path), timeout);
    CURL* c = curl.get();
    DockerResponse response;
    BufferSink sink{&response.body, options_.max_response_bytes};
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_to_buffer);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    Slist headers;
    append(headers, "Expect:");
    for (const auto& header : extra_headers) append(headers, header);
    if (body) {
        append(headers, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    } else if (method == "GET" || method == "DELETE") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    CURLcode code = curl_easy_perform(c);
    if (sink.overflow)
        throw ProviderUnavailable("Docker engine answer to " + method + " " + path + " exceeds " +
                                  std::to_string(options_.max_response_bytes) + " bytes");
    if (code != CURLE_OK) throw DockerUnavailable(transport_error(options_, code));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

long DockerClient::stream(const std::string& path,
                          const std::function<bool(std::string_view)>& on_data,
                          const std::function<bool()>& keep_going,
                          std::chrono::milliseconds max_duration) const {
    auto curl = new_handle(options_, url(path), max_duration);
    CURL* c = curl.get();
    StreamSink sink{&on_data, &keep_going};
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_to_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
    CURLcode code = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (sink.stopped || (code == CURLE_OPERATION_TIMEDOUT && status != 0)) return status;
    if (code != CURLE_OK) throw DockerUnavailable(transport_error(options_, code));
    return status;
}

long DockerClient::post_stream(const std::string& path, const std::string& body,
                               const std::vector<std::string>& headers,
                               const std::function<bool(std::string_view)>& on_data,
                               const std::function<bool()>& keep_going,
                               std::chrono::milliseconds max_duration) const {
    auto curl = new_handle(options_, url(path), max_duration);
    CURL* c = curl.get();
    StreamSink sink{&on_data, &keep_going};
    Slist header_list;
    append(header_list, "Expect:");
    bool typed = false;
    for (const auto& header : headers) {
        append(header_list, header);
        typed = typed || names_content_type(header);
    }
    // Otherwise libcurl would label the body application/x-www-form-urlencoded.
    if (!typed) append(header_list, "Content-Type:");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_to_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    bool stopped = false;
    CURLcode code = perform_polled(c, keep_going, stopped);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (stopped || sink.stopped) return status;
    if (code != CURLE_OK) throw DockerUnavailable(transport_error(options_, code));
    return status;
}

nlohmann::json DockerClient::get_json(const std::string& path) const {
    auto response = request("GET", path);
    if (!response.ok())
        throw ProviderUnavailable("Docker engine: GET " + path + ": " + response.message());
    auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (parsed.is_discarded())
        throw ProviderUnavailable("Docker engine: GET " + path + ": answer is not JSON");
    return parsed;
}

std::string DockerClient::url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3);
    for (unsigned char c : text) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
        }
    }
    return out;
}

std::string DockerClient::filters(const nlohmann::json& filters) {
    return "filters=" + url_encode(filters.dump());
}

}  // namespace faas::gateway
