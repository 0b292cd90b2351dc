// The build routes of the admin API: thin parsing around the build manager.
#include <nlohmann/json.hpp>

#include "admin_handlers.h"
#include "http_text.h"
#include "settings.h"

namespace faas::gateway {
namespace {

using nlohmann::json;

// The media type without parameters, lower-cased.
std::string media_type(std::string_view content_type) {
    std::string out(content_type.substr(0, content_type.find(';')));
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_archive_type(const std::string& type) {
    return type == "application/gzip" || type == "application/x-gzip" ||
           type == "application/x-tar" || type == "application/x-compressed-tar" ||
           type == "application/octet-stream";
}

bool is_build_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && id.find_first_not_of("0123456789abcdef") == id.npos;
}

}  // namespace

BuildManager& AdminHandlers::builds() const {
    if (builds_ == nullptr)
        throw NotEnabled("builds from source are off on this gateway (set builds=true)");
    return *builds_;
}

std::string AdminHandlers::build_id_in_path(std::string_view path, std::string_view suffix) const {
    constexpr std::string_view prefix = "/system/builds/";
    std::string_view id = path.substr(prefix.size());
    id.remove_suffix(suffix.size());
    if (!is_build_id(id)) throw NotFound("build " + std::string(id) + " not found");
    return std::string(id);
}

Response AdminHandlers::create_build(const Request& request) {
    auto& manager = builds();
    check_namespace_param(request);
    const auto type = media_type(request.header("Content-Type"));
    const auto& limits = manager.limits();
    BuildRequest build;
    if (type == "application/json") {
        build = parse_json_build(std::string(request.body), served_namespace_, limits);
    } else if (is_archive_type(type)) {
        build = parse_archive_build(request.body, request.header(kBuildDeploymentHeader),
                                    served_namespace_, limits);
    } else {
        throw BadRequest(
            "Content-Type must be application/json (code and files) or application/gzip (a "
            "build context as `faas build --shrinkwrap` writes it, tar'd and gzip'd)");
    }
    auto record = manager.submit(std::move(build));
    auto response = Response::json(202, to_json(record, served_namespace_).dump());
    response.headers.emplace_back("Location", "/system/builds/" + record.id);
    return response;
}

Response AdminHandlers::list_builds(const Request& request) {
    auto& manager = builds();
    check_namespace_param(request);
    std::string function;
    if (auto name = request.query("function"); name && !name->empty())
        function = function_in_path(*name);
    std::size_t limit = 50;
    if (auto text = request.query("limit"); text && !text->empty()) {
        auto value = parse_int(*text);
        if (!value || *value < 1 || *value > 1000)
            throw BadRequest("'limit' must be a number from 1 to 1000");
        limit = static_cast<std::size_t>(*value);
    }
    json out = json::array();
    for (const auto& record : manager.list(function, limit))
        out.push_back(to_json(record, served_namespace_));
    return Response::json(200, out.dump());
}

Response AdminHandlers::get_build(const Request& request) {
    auto id = build_id_in_path(request.path(), "");
    auto record = builds().get(id);
    if (!record) throw NotFound("build " + id + " not found");
    return Response::json(200, to_json(*record, served_namespace_).dump());
}

Response AdminHandlers::cancel_build(const Request& request) {
    auto id = build_id_in_path(request.path(), "");
    auto record = builds().cancel(id);
    return Response::json(202, to_json(record, served_namespace_).dump());
}

Response AdminHandlers::build_logs(const Request& request) {
    auto id = build_id_in_path(request.path(), "/logs");
    bool follow = false;
    if (auto text = request.query("follow"); text && !text->empty()) {
        auto value = parse_bool(*text);
        if (!value) throw BadRequest("'follow' must be true or false");
        follow = *value;
    }
    std::shared_ptr<BuildLogCursor> cursor = builds().logs(id);
    Response response;
    response.headers.emplace_back("Content-Type", "application/x-ndjson");
    if (!follow) {
        // What is there now: a running build's log so far, or a finished one's whole log.
        for (int batch = 0; batch < 1000; ++batch) {
            auto lines = cursor->next(std::chrono::milliseconds(0));
            if (!lines || lines->empty()) break;
            for (const auto& line : *lines) response.body += line;
        }
        return response;
    }
    const auto deadline = std::chrono::steady_clock::now() + max_follow_;
    response.stream = [cursor, deadline, this](BodyWriter& writer) {
        while (!draining_.load() && std::chrono::steady_clock::now() < deadline) {
            auto lines = cursor->next(std::chrono::milliseconds(250));
            if (!lines) return;
            std::string out;
            for (const auto& line : *lines) out += line;
            if (!out.empty() && !writer.write(out)) return;
        }
    };
    return response;
}

Response AdminHandlers::rollback(const Request& request) {
    auto path = request.path();
    constexpr std::string_view prefix = "/system/functions/";
    constexpr std::string_view suffix = "/rollback";
    auto name =
        function_in_path(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
    check_namespace_param(request);
    auto version = builds().rollback(name);
    return Response::json(
        202,
        json{{"function", name}, {"version", version.version}, {"image", version.image}}.dump());
}

}  // namespace faas::gateway
