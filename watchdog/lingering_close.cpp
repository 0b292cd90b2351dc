// Answer first, then drain.
#include "lingering_close.h"

#include <memory>

#include "http_text.h"

namespace faas::watchdog {

DrainLimit::DrainLimit(std::uint64_t max_bytes)
    : left_(max_bytes), deadline_(std::chrono::steady_clock::now() + kDrainMaxTime) {}

bool DrainLimit::take(std::size_t size) {
    if (size > left_) return false;
    left_ -= size;
    return std::chrono::steady_clock::now() < deadline_;
}

void answer_then_drain(httplib::Response& res, int status, std::string message,
                       const httplib::ContentReader& reader, std::uint64_t drain_bytes) {
    res.status = status;
    res.set_header("Connection", "close");
    // An empty body would never reach the provider, and so never drain: say why instead.
    if (message.empty()) message = "HTTP status " + std::to_string(status) + "\n";
    auto text = std::make_shared<std::string>(std::move(message));
    res.set_content_provider(
        text->size(), "text/plain; charset=utf-8",
        [text, reader, drain_bytes](std::size_t offset, std::size_t length,
                                    httplib::DataSink& sink) {
            if (!sink.write(text->data() + offset, length)) return false;
            if (drain_bytes > 0) {
                DrainLimit limit(drain_bytes);
                reader([&limit](const char*, std::size_t size) { return limit.take(size); });
            }
            // Failing after writing everything makes cpp-httplib close the connection: the
            // body's end is not known to have been reached, so it cannot carry a next request.
            return false;
        });
}

std::uint64_t drain_size(const httplib::Request& req) {
    if (has_token(req.get_header_value("Transfer-Encoding"), "chunked")) return kDrainMaxBytes;
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty() || length.size() > 19 ||
        length.find_first_not_of("0123456789") != std::string::npos)
        return 0;
    std::uint64_t bytes = std::stoull(length);
    return bytes <= kDrainMaxBytes ? bytes : 0;
}

}  // namespace faas::watchdog
