// Fork-per-request modes.
#include "fork_handler.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "cgi_env.h"
#include "child_process.h"
#include "http_server.h"
#include "log.h"
#include "process_session.h"
#include "settings.h"

namespace faas::watchdog {
namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(Clock::duration d) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%f", std::chrono::duration<double>(d).count());
    return buffer;
}

// stderr of a child whose output is not combined is logged, one "stderr: " line per line.
ProcessSession::ErrorHandler stderr_logger() {
    return [](const char* data, std::size_t size) {
        std::string_view text(data, size);
        while (!text.empty()) {
            auto newline = text.find('\n');
            auto line = text.substr(0, newline);
            faas::log_line("stderr: " + std::string(line));
            if (newline == std::string_view::npos) break;
            text.remove_prefix(newline + 1);
        }
    };
}

}  // namespace

ForkHandler::ForkHandler(const Config& config, std::vector<std::string> base_env)
    : config_(config), base_env_(std::move(base_env)) {}

std::unique_ptr<ChildProcess> ForkHandler::start_child(const std::vector<std::string>& env,
                                                       httplib::Response& res) const {
    faas::log_line("Forking fprocess.");
    try {
        return std::make_unique<ChildProcess>(config_.argv, env, config_.combine_output);
    } catch (const SpawnError& e) {
        faas::log_line(std::string("Failed to start process: ") + e.what());
        res.status = 500;
        res.set_content(std::string("Failed to start process: ") + e.what() + "\n", "text/plain");
        return nullptr;
    }
}

std::string ForkHandler::response_content_type(const httplib::Request& req) const {
    if (!config_.content_type.empty()) return config_.content_type;
    return req.get_header_value("Content-Type");
}

void ForkHandler::serve_buffered(const httplib::Request& req, httplib::Response& res,
                                 const std::string& body, Reservation& memory) const {
    auto started = Clock::now();
    auto over_budget = [&res] {
        faas::log_line("Request refused: max_buffered_bytes is spent");
        res.status = 503;
        res.set_content("The watchdog's buffers are full (max_buffered_bytes); retry later.\n",
                        "text/plain");
    };
    std::string marshalled;
    if (config_.marshal_request) {
        // base64 is 4/3 of the body; JSON escaping can triple a header byte at worst. Held
        // until the response is written, as the output is.
        std::size_t header_bytes = 0;
        for (const auto& [name, value] : req.headers) header_bytes += name.size() + value.size();
        if (!memory.grow((body.size() + 2) / 3 * 4 + 3 * header_bytes + 1024)) return over_budget();
        marshalled = marshal_request_body(req, body);
    }
    const std::string& input = config_.marshal_request ? marshalled : body;
    auto env = build_child_env(base_env_, req, facts_of(req, body.size()), config_.cgi_headers);
    if (config_.write_debug) faas::log_line("Query: " + req.target + "\nBody: " + body);

    auto child = start_child(env, res);
    if (!child) return;

    BudgetedBuffer output(memory, config_.max_response_bytes);
    bool refused = false;
    std::optional<Clock::time_point> deadline;
    if (config_.exec_timeout.count() > 0) deadline = started + config_.exec_timeout;
    ProcessSession session(
        *child,
        [&output, &refused](const char* data, std::size_t size) {
            refused = !output.append(data, size);
            return !refused;
        },
        config_.combine_output ? ProcessSession::ErrorHandler{} : stderr_logger(), deadline,
        config_.max_response_bytes);
    session.write_input(input.data(), input.size());
    SessionResult result = session.finish();
    auto elapsed = Clock::now() - started;
    res.set_header("X-Duration-Seconds", seconds_text(elapsed));

    switch (result.end) {
        case SessionEnd::kTimedOut:
            faas::log_line("Killed process: exceeded exec_timeout of " +
                           faas::format_duration(config_.exec_timeout));
            res.status = 408;
            res.set_content("Killed process.\n", "text/plain");
            return;
        case SessionEnd::kOutputTooLarge:
            faas::log_line("Killed process: output exceeded max_response_bytes (" +
                           std::to_string(config_.max_response_bytes) + " bytes)");
            res.status = 502;
            res.set_content("Function output exceeded max_response_bytes (" +
                                std::to_string(config_.max_response_bytes) + " bytes).\n",
                            "text/plain");
            return;
        case SessionEnd::kAborted:
            if (refused) return over_budget();
            res.status = 500;
            res.set_content("Function I/O failed.\n", "text/plain");
            return;
        case SessionEnd::kExited:
            break;
    }
    if (config_.write_debug) faas::log_line("Out: " + output.str());
    if (!result.status.success()) {
        faas::log_line("Function failed: " + result.status.describe());
        if (!output.prepend(result.status.describe() + "\n")) return over_budget();
        res.status = 500;
        res.set_header("Content-Type", "text/plain");
        res.body = output.take();
        return;
    }
    faas::log_line("Wrote " + std::to_string(output.size()) +
                   " Bytes - Duration: " + seconds_text(elapsed) + " seconds");
    res.status = 200;
    std::string content_type = response_content_type(req);
    // The reservation keeps paying for the body until the response has been written.
    res.body = output.take();
    if (!content_type.empty()) res.set_header("Content-Type", content_type);
}

void ForkHandler::serve_streaming(const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader* reader) const {
    auto started = Clock::now();
    auto env = build_child_env(base_env_, req, facts_of(req, std::nullopt), config_.cgi_headers);
    std::shared_ptr<ChildProcess> child = start_child(env, res);
    if (!child) return;
    std::string content_type = response_content_type(req);
    if (content_type.empty()) content_type = "application/octet-stream";

    // The provider runs while cpp-httplib writes the response, when the request's reader is
    // still valid (it refers to the connection's stream, which outlives the response). Feeding
    // stdin from inside it lets input and output flow at once through one thread.
    std::optional<httplib::ContentReader> body_reader;
    if (reader) body_reader = *reader;
    const Config& config = config_;
    res.status = 200;
    res.set_chunked_content_provider(content_type, [child, body_reader, &config, started](
                                                       std::size_t,
                                                       httplib::DataSink& sink) mutable {
        std::optional<Clock::time_point> deadline;
        if (config.exec_timeout.count() > 0) deadline = started + config.exec_timeout;
        ProcessSession session(
            *child, [&sink](const char* data, std::size_t size) { return sink.write(data, size); },
            config.combine_output ? ProcessSession::ErrorHandler{} : stderr_logger(), deadline, 0);
        std::uint64_t received = 0;
        bool input_ok = true;
        if (body_reader) {
            input_ok = (*body_reader)([&](const char* data, std::size_t size) {
                received += size;
                if (received > config.max_request_bytes) return false;
                return session.write_input(data, size);
            });
        }
        SessionResult result = session.finish();
        auto elapsed = Clock::now() - started;
        if (!input_ok && received > config.max_request_bytes) {
            faas::log_line("Request body exceeded max_request_bytes; stream aborted");
            return false;
        }
        switch (result.end) {
            case SessionEnd::kTimedOut:
                faas::log_line("Killed process: exceeded exec_timeout of " +
                               faas::format_duration(config.exec_timeout));
                return false;
            case SessionEnd::kAborted:
                faas::log_line("Client went away; process killed");
                return false;
            default:
                break;
        }
        if (!result.status.success()) {
            faas::log_line("Function failed: " + result.status.describe());
            return false;
        }
        faas::log_line("Wrote " + std::to_string(result.output_bytes) +
                       " Bytes - Duration: " + seconds_text(elapsed) + " seconds");
        sink.done();
        return true;
    });
}

}  // namespace faas::watchdog
