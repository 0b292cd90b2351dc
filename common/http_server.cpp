// Server set-up shared by the gateway and the watchdog.
#include "http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

namespace faas {

void tune_server(httplib::Server& server, const ServerTuning& tuning) {
    const std::size_t min_threads = tuning.min_threads;
    const std::size_t threads = tuning.threads;
    // cpp-httplib takes ownership of the raw pointer its factory returns.
    server.new_task_queue = [min_threads, threads] {
        return new ElasticTaskQueue(min_threads, threads);
    };
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(tuning.keep_alive_max_requests);
    server.set_keep_alive_timeout(tuning.keep_alive_timeout_seconds);
}

int bind_server(httplib::Server& server, const std::string& host, int port, int backlog) {
    // The socket-options hook is the one place cpp-httplib shows us the listening socket; we
    // keep SO_REUSEADDR (its default) and remember the fd to widen the backlog after bind.
    auto listen_fd = std::make_shared<int>(-1);
    server.set_socket_options([listen_fd](socket_t fd) {
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        *listen_fd = fd;
    });
    int bound =
        port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound < 0) return -1;
    // Linux lets listen() on a listening socket change its backlog.
    if (*listen_fd >= 0) ::listen(*listen_fd, backlog);
    return bound;
}

void respond_and_close(httplib::Response& res, int status, std::string body,
                       const std::string& content_type) {
    res.status = status;
    res.set_header("Connection", "close");
    // An empty body would never reach the provider, and so never close: say why instead.
    if (body.empty()) body = "HTTP status " + std::to_string(status) + "\n";
    auto shared = std::make_shared<std::string>(std::move(body));
    // A provider that reports failure after writing everything makes cpp-httplib end the
    // connection once the response is out; the client still receives the whole response.
    res.set_content_provider(
        shared->size(), content_type,
        [shared](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            sink.write(shared->data() + offset, length);
            return false;
        });
}

void settle_missing_length(const httplib::Request& req) {
    // Only the methods whose bodies the library reads without a length; others keep their
    // headers as sent (a GET's CGI environment has no Http_Content_Length).
    if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH") return;
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) return;
    // The request is the library's to change at this point: only its header map is touched.
    const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
}

bool is_httplib_method(std::string_view method) {
    for (std::string_view known :
         {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"})
        if (method == known) return true;
    return false;
}

bool is_synthetic_header(const std::string& name) {
    return name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
           name == "LOCAL_PORT";
}

}  // namespace faas
