// Tar archives (.tar, .tar.gz) of build contexts: reading untrusted ones safely into a folder,
// and writing a folder as one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace faas {

/// Bounds on what reading an archive may unpack.
struct ArchiveLimits {
    /// Sum of the entries' data actually decompressed (header sizes are not trusted). The whole
    /// decompressed tar stream, headers included, may add a small allowance per entry on top.
    std::uint64_t max_unpacked_bytes = 256ULL << 20;
    std::uint64_t max_entries = 10000;
    std::size_t max_path_bytes = 1024;  ///< An entry's name or a link's target, as stored.
    int max_depth = 32;                 ///< Path components, after normalisation.
};

/// The archive is refused: malformed, ambiguous or unsafe. what() is one line naming the entry.
class ArchiveRejected : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Over a limit of ArchiveLimits (the gateway answers 413 for this one, 400 for the base).
class ArchiveTooLarge : public ArchiveRejected {
  public:
    using ArchiveRejected::ArchiveRejected;
};

/// Checks every entry of a tar (plain or gzip'd, detected from the bytes) and writes it under
/// `dest`, which must be an existing empty folder (std::invalid_argument otherwise).
///
/// The whole archive is checked before anything is written (it is decompressed twice), so a
/// refused archive writes nothing. Accepted: regular files (mode 0755 if any execute bit was
/// set, else 0644), folders (0755), and symbolic links to relative targets that stay inside
/// `dest`; owners and times are ignored. Writing never follows a symbolic link.
///
/// Throws ArchiveRejected / ArchiveTooLarge for the archive's faults, std::system_error when
/// writing fails (e.g. a full disk); on any throw `dest` is left empty again.
void extract_archive(std::string_view data, const std::filesystem::path& dest,
                     const ArchiveLimits& limits);

/// The same checks as extract_archive without writing anything.
void check_archive(std::string_view data, const ArchiveLimits& limits);

/// The tree under `dir` as a tar (paths relative to `dir`, in sorted order; regular files,
/// folders, and symbolic links kept as links with their targets as they are), gzip'd when
/// `gzip`. Modes are normalised (0755/0644), owners are 0. Throws std::runtime_error naming the
/// path for anything else (a device, a fifo, a socket) or a file that cannot be read.
std::string write_archive(const std::filesystem::path& dir, bool gzip);

}  // namespace faas
