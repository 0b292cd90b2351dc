// The Docker builder: POST /build with the context's tar, the JSON progress stream into the
// build's log, and a push to build_registry.
#include "build/docker_builder.h"

#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "archive.h"
#include "base64.h"
#include "errors.h"
#include "log.h"

namespace faas::gateway {
namespace {

using namespace std::chrono_literals;

// How much of an answer is kept for a refusal's message ({"message": ...} is short).
constexpr std::size_t kMaxRefusal = 64u << 10;
// A bound on the layers remembered for "status" messages; an image has tens.
constexpr std::size_t kMaxLayers = 4096;

// Whether the context's Dockerfile takes the WATCHDOG_IMAGE argument (the templates' do; a
// dockerfile function's own need not). Unreadable: assume it does, as before this check. An
// argument the Dockerfile does not declare makes the engine warn in the build's log.
bool takes_watchdog_arg(const std::filesystem::path& context_dir) {
    std::ifstream in(context_dir / "Dockerfile", std::ios::binary);
    if (!in) return true;
    std::string text(1u << 20, '\0');  // Dockerfiles are small; the name is near the top
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text.find("WATCHDOG_IMAGE") != std::string::npos;
}

// The engine's error text on one line: a failed RUN's message may span several.
std::string one_line(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

std::string string_field(const nlohmann::json& message, const char* key) {
    auto it = message.find(key);
    return it != message.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::vector<std::string> EngineOutputReader::feed(std::string_view chunk) {
    std::vector<std::string> lines;
    while (!chunk.empty()) {
        auto end = chunk.find('\n');
        std::string_view part = chunk.substr(0, end);
        if (skipping_message_) {
            skipping_message_ = end == std::string_view::npos;
        } else if (message_.size() + part.size() > kMaxLine) {
            message_.clear();
            skipping_message_ = end == std::string_view::npos;
            flush_text(lines);
            lines.push_back("(an engine message over 1 MiB was cut)");
        } else if (end == std::string_view::npos) {
            message_.append(part);
        } else if (message_.empty()) {
            take_message(part, lines);
        } else {
            message_.append(part);
            take_message(message_, lines);
            message_.clear();
        }
        if (end == std::string_view::npos) break;
        chunk.remove_prefix(end + 1);
    }
    return lines;
}

std::vector<std::string> EngineOutputReader::finish() {
    std::vector<std::string> lines;
    if (!skipping_message_ && !message_.empty()) take_message(message_, lines);
    message_.clear();
    flush_text(lines);
    return lines;
}

void EngineOutputReader::take_message(std::string_view json, std::vector<std::string>& lines) {
    while (!json.empty() && (json.back() == '\r' || json.back() == ' ')) json.remove_suffix(1);
    if (json.empty() || error_) return;
    auto message = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
    if (!message.is_object()) {  // not the engine's format: show it as it came
        flush_text(lines);
        lines.emplace_back(json);
        return;
    }
    if (message.contains("error") || message.contains("errorDetail")) {
        std::string text = string_field(message, "error");
        if (text.empty()) {
            auto detail = message.find("errorDetail");
            if (detail != message.end() && detail->is_object())
                text = string_field(*detail, "message");
        }
        flush_text(lines);
        error_ = text.empty() ? std::string("the engine reported an error") : one_line(text);
        return;
    }
    if (auto it = message.find("stream"); it != message.end() && it->is_string()) {
        take_text(it->get_ref<const std::string&>(), lines);
        return;
    }
    std::string status = string_field(message, "status");
    if (status.empty()) return;  // "aux" (the image ID, the pushed digest) and the like
    flush_text(lines);
    std::string id = string_field(message, "id");
    if (id.empty()) {
        lines.push_back(std::move(status));
        return;
    }
    // Downloading and Pushing repeat with every progress tick: log a layer's changes only.
    auto [it, added] = layer_status_.try_emplace(id, status);
    if (!added) {
        if (it->second == status) return;
        it->second = status;
    } else if (layer_status_.size() > kMaxLayers) {
        layer_status_.clear();
    }
    lines.push_back(id + ": " + status);
}

// "stream" text is the build's output in pieces that need not end lines: the classic
// builder sends "Step 1/9 : FROM ..." and its "\n" as two messages.
void EngineOutputReader::take_text(std::string_view text, std::vector<std::string>& lines) {
    while (!text.empty()) {
        auto end = text.find('\n');
        std::string_view part = text.substr(0, end);
        if (skipping_text_) {
            skipping_text_ = end == std::string_view::npos;
        } else if (text_.size() + part.size() > kMaxLine) {
            text_.append(part.substr(0, kMaxLine - text_.size()));
            flush_text(lines);
            skipping_text_ = end == std::string_view::npos;
        } else {
            text_.append(part);
            if (end != std::string_view::npos) flush_text(lines);
        }
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
}

void EngineOutputReader::flush_text(std::vector<std::string>& lines) {
    skipping_text_ = false;
    std::string_view line = text_;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A progress bar redraws its line after '\r': keep what it showed last.
    if (auto cr = line.rfind('\r'); cr != std::string_view::npos) line.remove_prefix(cr + 1);
    if (!line.empty()) lines.emplace_back(line);
    text_.clear();
}

DockerBuilder::DockerBuilder(DockerBuilderOptions options)
    : options_(std::move(options)), docker_(options_.docker) {}

void DockerBuilder::check(const std::string&) const {
    if (!options_.registry.empty()) return;
    int nodes = node_count();
    if (nodes > 1)
        throw BadRequest("this Swarm has " + std::to_string(nodes) +
                         " nodes and no build_registry: the other nodes could not pull the "
                         "image; set build_registry (e.g. 127.0.0.1:5000 with the registry "
                         "stack)");
}

int DockerBuilder::node_count() const {
    auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(nodes_mutex_);
        if (nodes_ && now - nodes_at_ < options_.node_check_cache) return *nodes_;
    }
    auto nodes = docker_.get_json("/nodes");
    if (!nodes.is_array())
        throw ProviderUnavailable("Docker engine: GET /nodes: the answer is not a list");
    int count = static_cast<int>(nodes.size());
    std::lock_guard lock(nodes_mutex_);
    nodes_ = count;
    nodes_at_ = now;
    return count;
}

std::string DockerBuilder::build(const BuildJob& job, BuildProgress& progress) {
    std::string repository =
        options_.registry.empty() ? job.function : options_.registry + "/" + job.function;
    std::string image = repository + ":" + job.version;
    std::string context;
    try {
        context = faas::write_archive(job.context_dir, /*gzip=*/false);
    } catch (const std::exception& e) {
        throw BuildFailed(std::string("cannot pack the build context: ") + e.what());
    }
    nlohmann::json args = nlohmann::json::object();
    for (const auto& [name, value] : job.build_args) args[name] = value;
    if (!args.contains("WATCHDOG_IMAGE") && takes_watchdog_arg(job.context_dir))
        args["WATCHDOG_IMAGE"] = options_.watchdog_image;
    std::string path = "/build?t=" + DockerClient::url_encode(image) +
                       "&rm=1&forcerm=1&buildargs=" +
                       DockerClient::url_encode(
                           args.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (auto error = run(path, context, {"Content-Type: application/x-tar"}, progress,
                         "docker build failed"))
        throw BuildFailed(*error);
    std::string().swap(context);  // tens of MB the push does not need
    if (!options_.registry.empty()) push(job, progress);
    return image;
}

void DockerBuilder::push(const BuildJob& job, BuildProgress& progress) {
    progress.enter(BuildStage::kPushing);
    std::string path = "/images/" +
                       DockerClient::url_encode(options_.registry + "/" + job.function) +
                       "/push?tag=" + DockerClient::url_encode(job.version);
    std::string failure = "push to " + options_.registry + " failed";
    // The engine wants credentials even for a registry without any: an empty set will do.
    std::vector<std::string> headers{"X-Registry-Auth: " + base64_encode("{}", /*url_safe=*/true)};
    if (auto error = run(path, std::string(), headers, progress, failure))
        throw BuildFailed(failure + ": " + *error);
}

std::optional<std::string> DockerBuilder::run(const std::string& path, const std::string& body,
                                              const std::vector<std::string>& headers,
                                              BuildProgress& progress, const std::string& failure) {
    EngineOutputReader reader;
    std::string answer;  // the start of the answer: a refusal's {"message": ...}
    std::exception_ptr fault;
    auto on_data = [&](std::string_view chunk) {
        // No exception may cross libcurl's C frames: keep it and stop the transfer.
        try {
            if (answer.size() < kMaxRefusal)
                answer.append(chunk.substr(0, kMaxRefusal - answer.size()));
            for (const auto& line : reader.feed(chunk)) progress.line(line);
        } catch (...) {
            fault = std::current_exception();
            return false;
        }
        return !reader.error();
    };
    auto keep_going = [&] { return !progress.stop_requested(); };
    long status = 0;
    try {
        status =
            docker_.post_stream(path, body, headers, on_data, keep_going, options_.max_duration);
    } catch (const ProviderUnavailable& e) {
        if (progress.stop_requested()) throw BuildStopped("the build was stopped");
        throw BuildFailed(failure + ": " + e.what());
    }
    if (fault) std::rethrow_exception(fault);
    if (progress.stop_requested()) throw BuildStopped("the build was stopped");
    if (status < 200 || status >= 300)
        throw BuildFailed(failure + ": " + DockerResponse{status, std::move(answer)}.message());
    for (const auto& line : reader.finish()) progress.line(line);
    return reader.error();
}

void DockerBuilder::forget(const std::string& image) noexcept {
    try {
        auto response =
            docker_.request("DELETE", "/images/" + DockerClient::url_encode(image) + "?noprune=0",
                            nullptr, {}, std::chrono::milliseconds(30s));
        // 404: gone already; 409: a task still runs it, and it goes with a later version.
        if (!response.ok() && response.status != 404 && response.status != 409)
            log_line("builds: cannot remove image " + image + ": " + response.message());
    } catch (const std::exception& e) {
        log_line("builds: cannot remove image " + image + ": " + e.what());
    }
}

}  // namespace faas::gateway
