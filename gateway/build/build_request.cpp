// Parsing build requests and laying out their build contexts.
#include "build/build_request.h"

#include <algorithm>
#include <fstream>

#include "function_template.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string mib(std::uint64_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

void check_size(std::size_t size, const BuildRequestLimits& limits) {
    if (size > limits.max_context_bytes)
        throw PayloadTooLarge("the build request is larger than max_build_context_bytes (" +
                              mib(limits.max_context_bytes) + ")");
}

bool is_valid_lang(std::string_view lang) {
    if (lang.empty() || lang.size() > 64 || lang.front() == '.' || lang.front() == '-')
        return false;
    return std::all_of(lang.begin(), lang.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

bool is_build_arg_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || (name.front() >= '0' && name.front() <= '9'))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// Takes the build's own fields out of `object`, leaving a deployment.
void take_build_fields(json& object, BuildRequest& request, bool archive) {
    if (auto it = object.find("lang"); it != object.end() && !it->is_null()) {
        if (!it->is_string() || !is_valid_lang(it->get<std::string>()))
            throw BadRequest("'lang' must be a template name (a-z, 0-9, '-', '_', '.')");
        request.lang = it->get<std::string>();
    }
    if (auto it = object.find("buildArgs"); it != object.end() && !it->is_null()) {
        if (!it->is_object()) throw BadRequest("'buildArgs' must be an object of strings");
        for (const auto& [key, value] : it->items()) {
            if (!is_build_arg_name(key) || !value.is_string())
                throw BadRequest("'buildArgs." + key + "' must be a string named A-Z, 0-9, _");
            request.build_args[key] = value.get<std::string>();
        }
    }
    if (archive && (object.contains("code") || object.contains("files")))
        throw BadRequest("'code' and 'files' come in the archive, not in " +
                         std::string(kBuildDeploymentHeader));
    if (object.contains("image") && !object["image"].is_null())
        throw BadRequest("'image' is what the build makes: leave it out");
    for (const char* field : {"lang", "buildArgs", "code", "files", "image"}) object.erase(field);
    object["image"] = kPendingImage;
}

void write_file(const fs::path& path, std::string_view content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out.flush()) throw ProviderUnavailable("cannot write " + path.string());
}

std::string known_templates(const fs::path& templates_dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(templates_dir, ec))
        if (entry.is_directory() && fs::exists(entry.path() / "template.yml"))
            names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out.empty() ? "none installed" : out;
}

// The starter's handler (handler.py, handler.js, ...) and tests are the user's to give.
bool is_starter_only(const std::string& name) {
    return name.rfind("handler.", 0) == 0 || name.find("test") != std::string::npos;
}

std::string starter_handler(const fs::path& folder) {
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
        const auto name = entry.path().filename().string();
        if (entry.is_regular_file() && name.rfind("handler.", 0) == 0 &&
            name.find("test") == std::string::npos)
            names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names.empty() ? std::string() : names.front();
}

void make_json_context(const BuildRequest& request, const fs::path& templates_dir,
                       const fs::path& dest) {
    const fs::path tmpl_dir = templates_dir / request.lang;
    if (!fs::exists(tmpl_dir / "template.yml"))
        throw BadRequest("unknown lang '" + request.lang +
                         "' (known: " + known_templates(templates_dir) + ")");
    TemplateInfo tmpl;
    try {
        tmpl = read_template(tmpl_dir);
    } catch (const std::exception& e) {
        throw ProviderUnavailable("template " + request.lang + " cannot be read: " + e.what());
    }
    const bool dockerfile = request.lang == "dockerfile";
    const fs::path starter = tmpl_dir / (dockerfile ? "function" : tmpl.handler_folder);
    const fs::path handler_dir = dockerfile ? dest : dest / tmpl.handler_folder;
    if (!dockerfile) {
        for (const auto& entry : fs::directory_iterator(tmpl_dir)) {
            const auto name = entry.path().filename();
            if (name == tmpl.handler_folder) continue;
            fs::copy(entry.path(), dest / name,
                     fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        }
    }
    fs::create_directories(handler_dir);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(starter, ec)) {
        const auto name = entry.path().filename().string();
        if (is_starter_only(name)) continue;
        fs::copy(entry.path(), handler_dir / name,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
    if (request.code) {
        const auto handler = starter_handler(starter);
        if (handler.empty())
            throw BadRequest("template " + request.lang +
                             " has no handler file for 'code': send it in 'files'");
        write_file(handler_dir / handler, *request.code);
    }
    for (const auto& [path, content] : request.files) write_file(handler_dir / path, content);
}

void make_archive_context(BuildRequest& request, const fs::path& dest,
                          const BuildRequestLimits& limits) {
    try {
        extract_archive(request.archive, dest, limits.archive);
    } catch (const ArchiveTooLarge& e) {
        throw PayloadTooLarge(std::string("build context: ") + e.what());
    } catch (const ArchiveRejected& e) {
        throw BadRequest(std::string("build context: ") + e.what());
    }
    if (!request.lang.empty()) return;
    if (fs::exists(dest / "template.yml")) {
        try {
            request.lang = read_template(dest).language;
        } catch (const std::exception& e) {
            throw BadRequest(std::string("build context: ") + e.what());
        }
        if (!is_valid_lang(request.lang))
            throw BadRequest("build context: template.yml's language is not a template name");
    } else if (fs::exists(dest / "Dockerfile")) {
        request.lang = "dockerfile";
    } else {
        throw BadRequest(
            "build context: no template.yml and no Dockerfile; say which template with 'lang'");
    }
}

}  // namespace

bool is_safe_relative_path(std::string_view path) {
    if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        const auto part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        for (char c : part)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return false;
        start = end + 1;
    }
    return true;
}

BuildRequest parse_json_build(const std::string& body, const std::string& served_namespace,
                              const BuildRequestLimits& limits) {
    check_size(body.size(), limits);
    json object = parse_json_object(body);
    BuildRequest request;
    if (auto it = object.find("code"); it != object.end() && !it->is_null()) {
        if (!it->is_string()) throw BadRequest("'code' must be a string");
        request.code = it->get<std::string>();
    }
    if (auto it = object.find("files"); it != object.end() && !it->is_null()) {
        if (!it->is_object()) throw BadRequest("'files' must be an object of path: content");
        if (it->size() > limits.max_files)
            throw BadRequest("'files' holds more than " + std::to_string(limits.max_files) +
                             " files");
        for (const auto& [path, content] : it->items()) {
            if (!is_safe_relative_path(path))
                throw BadRequest("'files': '" + path +
                                 "' must be a relative path inside the handler folder");
            if (!content.is_string()) throw BadRequest("'files." + path + "' must be a string");
            request.files[path] = content.get<std::string>();
        }
    }
    if (!request.code && request.files.empty())
        throw BadRequest("'code' is required (the handler file), or 'files'");
    take_build_fields(object, request, /*archive=*/false);
    if (request.lang.empty()) throw BadRequest("'lang' is required (a template name)");
    request.deployment = deployment_from_json(object, served_namespace);
    return request;
}

BuildRequest parse_archive_build(std::string_view archive, std::string_view header,
                                 const std::string& served_namespace,
                                 const BuildRequestLimits& limits) {
    check_size(archive.size(), limits);
    if (header.empty())
        throw BadRequest("a build context archive needs the " +
                         std::string(kBuildDeploymentHeader) +
                         " header: JSON with at least {\"service\": \"<name>\"}");
    json object = parse_json_object(std::string(header));
    BuildRequest request;
    take_build_fields(object, request, /*archive=*/true);
    request.deployment = deployment_from_json(object, served_namespace);
    request.archive = archive;
    return request;
}

void make_build_context(BuildRequest& request, const fs::path& templates_dir, const fs::path& dest,
                        const BuildRequestLimits& limits) {
    fs::create_directories(dest);
    if (request.code || !request.files.empty() || request.archive.empty())
        make_json_context(request, templates_dir, dest);
    else
        make_archive_context(request, dest, limits);
}

}  // namespace faas::gateway
