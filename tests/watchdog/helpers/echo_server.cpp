// A small HTTP server to stand behind fwatchdog in http mode: it echoes what it was sent and
// has a few paths that misbehave on purpose. Port from $PORT (default 8082).
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

int main() {
    const char* port_text = std::getenv("PORT");
    int port = port_text ? std::atoi(port_text) : 8082;
    httplib::Server server;
    auto echo = [](const httplib::Request& req, httplib::Response& res) {
        if (req.path == "/slow") std::this_thread::sleep_for(std::chrono::seconds(5));
        if (req.path == "/crash") std::_Exit(7);
        if (req.path.rfind("/status/", 0) == 0) res.status = std::atoi(req.path.c_str() + 8);
        std::string query;
        auto q = req.target.find('?');
        if (q != std::string::npos) query = req.target.substr(q + 1);
        res.set_header("X-Upstream-Method", req.method);
        res.set_header("X-Upstream-Path", req.path);
        res.set_header("X-Upstream-Query", query);
        res.set_header("X-Upstream-Custom", req.get_header_value("X-Custom"));
        res.set_content(req.body, "text/x-echo");
    };
    server.Get(".*", echo);
    server.Post(".*", echo);
    server.Put(".*", echo);
    server.Patch(".*", echo);
    server.Delete(".*", echo);
    return server.listen("127.0.0.1", port) ? 0 : 1;
}
