// A build request as the API takes it, checked before anything is queued: a JSON document
// (service, lang, the handler's code, more files, deployment fields) or a gzip'd tar of a
// build context with the same JSON minus the code in the X-Build-Deployment header. It ends
// as a folder on disk, the context a builder gets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "archive.h"
#include "function_types.h"

namespace faas::gateway {

/// The header that carries the JSON beside a tar'd build context.
inline constexpr std::string_view kBuildDeploymentHeader = "X-Build-Deployment";

struct BuildRequestLimits {
    std::uint64_t max_context_bytes = 20ULL << 20;  ///< The request body (JSON or archive).
    ArchiveLimits archive;                          ///< What an archive may unpack to.
    std::size_t max_files = 1000;                   ///< Entries of `files` in a JSON request.
};

struct BuildRequest {
    /// The deployment to make once built; its image is a placeholder until then.
    FunctionDeployment deployment;
    /// The template; empty for an archive whose context says (template.yml) or that holds a
    /// Dockerfile (then "dockerfile").
    std::string lang;
    std::map<std::string, std::string> build_args;
    // JSON requests:
    std::optional<std::string> code;           ///< The handler file's content.
    std::map<std::string, std::string> files;  ///< Path in the handler folder → content.
    // Archive requests:
    std::string_view archive;  ///< Views the request body.
};

/// The placeholder image of a deployment still to be built.
inline constexpr const char* kPendingImage = "(building)";

/// Parses a JSON build request. Throws BadRequest naming the field, PayloadTooLarge.
BuildRequest parse_json_build(const std::string& body, const std::string& served_namespace,
                              const BuildRequestLimits& limits);

/// Parses an archive build request: `header` is the X-Build-Deployment JSON (it must name the
/// service). The archive is checked when unpacked. Throws BadRequest, PayloadTooLarge.
BuildRequest parse_archive_build(std::string_view archive, std::string_view header,
                                 const std::string& served_namespace,
                                 const BuildRequestLimits& limits);

/// Makes the build context in `dest` (created, empty): for JSON, the template's files with its
/// handler folder holding the starter's support files (tests and the starter handler left
/// out), then `code` as the handler file and `files`; for an archive, its checked contents.
/// Fills in request.lang for an archive. Throws BadRequest (unknown lang, unsafe paths),
/// PayloadTooLarge (an archive over its limits).
void make_build_context(BuildRequest& request, const std::filesystem::path& templates_dir,
                        const std::filesystem::path& dest, const BuildRequestLimits& limits);

/// Whether `path` is a safe relative path (no '..', not absolute, no empty or control parts).
bool is_safe_relative_path(std::string_view path);

}  // namespace faas::gateway
