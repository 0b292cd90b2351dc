// Comparing dependency files and linking installed folders between version folders.
#include "build/dependency_reuse.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <system_error>

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;

enum class FileState { kAbsent, kRegular, kOther };

FileState state_of(const fs::path& path) {
    std::error_code ec;
    const auto type = fs::symlink_status(path, ec).type();
    if (type == fs::file_type::not_found) return FileState::kAbsent;
    return type == fs::file_type::regular ? FileState::kRegular : FileState::kOther;
}

/// Byte for byte, in blocks: the files are bounded by the build's unpacked size already.
bool same_content(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    const auto size = fs::file_size(a, ec);
    if (ec || fs::file_size(b, ec) != size || ec) return false;
    std::ifstream in_a(a, std::ios::binary);
    std::ifstream in_b(b, std::ios::binary);
    if (!in_a || !in_b) return false;
    std::array<char, 64 * 1024> block_a{};
    std::array<char, 64 * 1024> block_b{};
    while (in_a && in_b) {
        in_a.read(block_a.data(), block_a.size());
        in_b.read(block_b.data(), block_b.size());
        if (in_a.gcount() != in_b.gcount() ||
            !std::equal(block_a.begin(), block_a.begin() + in_a.gcount(), block_b.begin()))
            return false;
    }
    return !in_a.bad() && !in_b.bad() && in_a.eof() && in_b.eof();
}

}  // namespace

std::optional<std::string> first_changed_file(const LocalDependencies& dependencies,
                                              const fs::path& previous, const fs::path& work) {
    for (const auto& file : dependencies.files) {
        const auto before = state_of(previous / file);
        const auto now = state_of(work / file);
        if (before == FileState::kAbsent && now == FileState::kAbsent) continue;
        if (before != FileState::kRegular || now != FileState::kRegular ||
            !same_content(previous / file, work / file))
            return file;
    }
    return std::nullopt;
}

void link_installed(const LocalDependencies& dependencies, const fs::path& previous,
                    const fs::path& work) {
    for (const auto& installed : dependencies.installed) {
        const fs::path from = previous / installed;
        const fs::path to = work / installed;
        fs::remove_all(to);  // Whatever the (untrusted) context had there.
        if (state_of(from) == FileState::kAbsent) continue;
        fs::create_directories(to.parent_path());
        fs::copy(from, to,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                     fs::copy_options::create_hard_links);
    }
}

}  // namespace faas::gateway
