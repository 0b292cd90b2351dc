// Tar archives of build contexts with libarchive. Reading is for hostile input: every entry is
// checked (names, types, link targets, duplicates, sizes) before anything is written, data is
// streamed in blocks and counted as it is decompressed, and writing goes through directory file
// descriptors with O_NOFOLLOW so a symbolic link is never followed.
#include "archive.h"

#include <fcntl.h>
#include <libarchive.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace faas {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBlockBytes = 64 * 1024;
// NAME_MAX on Linux: a longer component could not be written, so it is the archive's fault.
constexpr std::size_t kMaxComponentBytes = 255;
// What the tar stream may hold beyond the entries' data: headers, padding, pax records (names,
// link targets, extended attributes). Bounds the work of decompressing headers libarchive
// reads by itself (it allows 32 special headers of 1 MiB each in front of an entry).
constexpr std::uint64_t kStreamBytesPerEntry = 16 * 1024;
constexpr std::uint64_t kStreamBytesBase = 4 << 20;
constexpr std::size_t kMaxShownBytes = 160;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b
               ? std::numeric_limits<std::uint64_t>::max()
               : a + b;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b
               ? std::numeric_limits<std::uint64_t>::max()
               : a * b;
}

// A name as it can be shown on one line of a log or a 400 body: quoted, non-printable bytes
// escaped, long names cut.
std::string shown(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < kMaxShownBytes; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > kMaxShownBytes) out += "...";
    return out + "\"";
}

// libarchive's message for the last failure, on one line.
std::string error_of(archive* a) {
    const char* message = archive_error_string(a);
    std::string text = message != nullptr ? message : "unknown error";
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return text;
}

[[noreturn]] void reject(std::string_view name, std::string_view why) {
    throw ArchiveRejected("archive entry " + shown(name) + ": " + std::string(why));
}

[[noreturn]] void too_large(std::string_view name, std::string_view why) {
    throw ArchiveTooLarge("archive entry " + shown(name) + ": " + std::string(why));
}

// `what` is a literal so that nothing between the failed call and here can change errno.
[[noreturn]] void system_failure(std::string_view name, const char* what) {
    const int code = errno;
    throw std::system_error(code, std::generic_category(),
                            "extracting archive entry " + shown(name) + ": " + what);
}

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

// The components of `text` split on '/', without empty ones and ".".
std::vector<std::string> components(std::string_view text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('/', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view part = text.substr(start, end - start);
        if (!part.empty() && part != ".") parts.emplace_back(part);
        start = end + 1;
    }
    return parts;
}

// The normalised components of an entry's name; throws for an unsafe or unusable one.
std::vector<std::string> entry_path(std::string_view name, const ArchiveLimits& limits) {
    if (name.empty()) reject(name, "empty name");
    if (name.size() > limits.max_path_bytes)
        reject(name, "name longer than " + std::to_string(limits.max_path_bytes) + " bytes");
    if (has_control_character(name)) reject(name, "control character in the name");
    if (name.front() == '/') reject(name, "absolute path");
    std::vector<std::string> parts = components(name);
    for (const auto& part : parts) {
        if (part == "..") reject(name, "'..' in the path");
        if (part.size() > kMaxComponentBytes)
            reject(name, "a path component is longer than " + std::to_string(kMaxComponentBytes) +
                             " bytes");
    }
    if (parts.size() > static_cast<std::size_t>(std::max(limits.max_depth, 0)))
        reject(name, "deeper than " + std::to_string(limits.max_depth) + " folders");
    return parts;
}

// A symbolic link's target must stay inside the root however the kernel resolves it. Lexical
// resolution is not enough: in "l/.." the ".." applies to wherever the link "l" points (which
// may be the root itself), so ".." is only accepted before the first name, where every folder
// it climbs out of is a real folder of the archive (entries never pass through links).
void check_link_target(std::string_view name, std::size_t parent_depth, std::string_view target,
                       const ArchiveLimits& limits) {
    if (target.empty()) reject(name, "symbolic link with an empty target");
    if (target.size() > limits.max_path_bytes)
        reject(name, "link target longer than " + std::to_string(limits.max_path_bytes) + " bytes");
    if (has_control_character(target)) reject(name, "control character in the link target");
    if (target.front() == '/') reject(name, "symbolic link to an absolute path " + shown(target));
    std::size_t ups = 0;
    bool named = false;
    for (const auto& part : components(target)) {
        if (part != "..") {
            named = true;
        } else if (named) {
            reject(name, "symbolic link target " + shown(target) + " has '..' after a name");
        } else {
            ++ups;
        }
    }
    if (ups > parent_depth)
        reject(name, "symbolic link target " + shown(target) + " leaves the folder");
}

enum class Kind { kImplicitFolder, kFolder, kFile, kSymlink };

// Every path seen so far, as a tree of components (memory in proportion to the names' bytes,
// not to their number of prefixes).
class PathTree {
  public:
    void add(std::string_view name, const std::vector<std::string>& parts, Kind kind) {
        Node* node = &root_;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            auto [it, inserted] = node->children.try_emplace(parts[i]);
            if (inserted) {
                it->second = std::make_unique<Node>();
            } else if (it->second->kind == Kind::kSymlink) {
                reject(name, "path passes through the symbolic link " + shown(parts[i]));
            } else if (it->second->kind == Kind::kFile) {
                reject(name, "path passes through the file " + shown(parts[i]));
            }
            node = it->second.get();
        }
        auto [it, inserted] = node->children.try_emplace(parts.back());
        if (inserted) {
            it->second = std::make_unique<Node>();
            it->second->kind = kind;
        } else if (it->second->kind == Kind::kImplicitFolder && kind == Kind::kFolder) {
            it->second->kind = kind;
        } else if (it->second->kind == Kind::kImplicitFolder) {
            reject(name, "names a folder of earlier entries");
        } else {
            reject(name, "the same path is in the archive twice");
        }
    }

  private:
    struct Node {
        Kind kind = Kind::kImplicitFolder;
        std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
    };
    Node root_{Kind::kFolder, {}};
};

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    /// Closes, reporting failure (a write-back error shows here on some file systems).
    bool close() { return ::close(std::exchange(fd_, -1)) == 0; }

  private:
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd_;
};

// Writes entries below a root folder through directory descriptors, never following a link:
// folders are entered with O_NOFOLLOW, files created with O_EXCL (which does not follow one).
class TreeWriter {
  public:
    explicit TreeWriter(const fs::path& root)
        : root_(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (root_.get() < 0) system_failure(".", "open the destination folder");
    }

    void make_folder(std::string_view name, const std::vector<std::string>& parts) {
        Fd parent = open_parent(name, parts);
        enter(name, parent, parts.back());
    }

    Fd create_file(std::string_view name, const std::vector<std::string>& parts, mode_t mode) {
        Fd parent = open_parent(name, parts);
        Fd file(::openat(parent.get(), parts.back().c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (file.get() < 0) system_failure(name, "create the file");
        // fchmod, unlike the mode of openat, is not narrowed by the umask.
        if (::fchmod(file.get(), mode) != 0) system_failure(name, "set the file's mode");
        return file;
    }

    void make_symlink(std::string_view name, const std::vector<std::string>& parts,
                      const std::string& target) {
        Fd parent = open_parent(name, parts);
        if (::symlinkat(target.c_str(), parent.get(), parts.back().c_str()) != 0)
            system_failure(name, "create the symbolic link");
    }

  private:
    Fd open_parent(std::string_view name, const std::vector<std::string>& parts) {
        Fd folder(::dup(root_.get()));
        if (folder.get() < 0) system_failure(name, "dup");
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) folder = enter(name, folder, parts[i]);
        return folder;
    }

    // The folder `component` of `parent`, made (mode 0755) if it is not there yet.
    static Fd enter(std::string_view name, const Fd& parent, const std::string& component) {
        constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        Fd folder(::openat(parent.get(), component.c_str(), kFlags));
        if (folder.get() >= 0) return folder;
        if (errno != ENOENT) system_failure(name, "open a folder of the path");
        if (::mkdirat(parent.get(), component.c_str(), 0700) != 0)
            system_failure(name, "create a folder of the path");
        folder = Fd(::openat(parent.get(), component.c_str(), kFlags));
        if (folder.get() < 0) system_failure(name, "open a folder of the path");
        if (::fchmod(folder.get(), 0755) != 0) system_failure(name, "set a folder's mode");
        return folder;
    }

    Fd root_;
};

void write_all(std::string_view name, const Fd& file, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(file.get(), data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) system_failure(name, "write the file");
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

struct ReadFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};
struct LocaleFree {
    void operator()(locale_t l) const { freelocale(l); }
};

// libarchive converts pax names (UTF-8) to and from the current locale's charset; in the "C"
// locale names that are not ASCII fail to convert. UTF-8 for the calling thread while an
// archive is read or written, whatever the program's locale.
class Utf8Locale {
  public:
    Utf8Locale() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {
        if (utf8_) previous_ = ::uselocale(utf8_.get());
    }
    Utf8Locale(const Utf8Locale&) = delete;
    Utf8Locale& operator=(const Utf8Locale&) = delete;
    ~Utf8Locale() {
        if (utf8_) ::uselocale(previous_);
    }

  private:
    std::unique_ptr<std::remove_pointer_t<locale_t>, LocaleFree> utf8_;
    locale_t previous_ = static_cast<locale_t>(0);
};

// Reads every entry of `data` and checks it; with a writer, also writes it.
void read_entries(std::string_view data, const ArchiveLimits& limits, TreeWriter* writer) {
    if (data.empty()) throw ArchiveRejected("not a tar archive: the input is empty");
    Utf8Locale utf8;
    std::unique_ptr<archive, ReadFree> reader(archive_read_new());
    if (!reader) throw std::bad_alloc();
    archive* a = reader.get();
    // Only tar, only gzip: a filter that is not built in would run an external program.
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK)
        throw std::runtime_error("libarchive cannot read tar.gz: " + error_of(a));
    if (archive_read_open_memory(a, data.data(), data.size()) != ARCHIVE_OK)
        throw ArchiveRejected("not a tar archive: " + error_of(a));

    const std::uint64_t max_stream_bytes =
        saturating_add(saturating_add(limits.max_unpacked_bytes, kStreamBytesBase),
                       saturating_mul(limits.max_entries, kStreamBytesPerEntry));
    auto check_stream = [&](std::string_view name) {
        const la_int64_t stream_bytes = archive_filter_bytes(a, 0);
        if (stream_bytes > 0 && static_cast<std::uint64_t>(stream_bytes) > max_stream_bytes)
            too_large(name, "the tar stream is larger than " + std::to_string(max_stream_bytes) +
                                " bytes");
    };

    PathTree seen;
    std::uint64_t entries = 0;
    std::uint64_t unpacked = 0;
    std::string last_name;
    std::vector<char> block(kBlockBytes);
    while (true) {
        archive_entry* entry = nullptr;
        const int status = archive_read_next_header(a, &entry);
        if (status == ARCHIVE_EOF) break;
        if (status != ARCHIVE_OK) {
            if (entries == 0) throw ArchiveRejected("not a valid tar archive: " + error_of(a));
            throw ArchiveRejected("not a valid tar archive after entry " + shown(last_name) + ": " +
                                  error_of(a));
        }
        const char* raw_name = archive_entry_pathname(entry);
        last_name = raw_name != nullptr ? raw_name : "";
        const std::string_view name = last_name;
        if (++entries > limits.max_entries)
            too_large(name, "more than " + std::to_string(limits.max_entries) + " entries");
        check_stream(name);

        const std::vector<std::string> parts = entry_path(name, limits);
        if (archive_entry_hardlink(entry) != nullptr) reject(name, "hard links are not accepted");
        Kind kind = Kind::kFile;
        switch (archive_entry_filetype(entry)) {
            case AE_IFREG:
                kind = Kind::kFile;
                break;
            case AE_IFDIR:
                kind = Kind::kFolder;
                break;
            case AE_IFLNK:
                kind = Kind::kSymlink;
                break;
            case AE_IFCHR:
            case AE_IFBLK:
                reject(name, "devices are not accepted");
            case AE_IFIFO:
                reject(name, "fifos are not accepted");
            case AE_IFSOCK:
                reject(name, "sockets are not accepted");
            default:
                reject(name, "unknown entry type");
        }
        if (parts.empty()) {
            // "." or "./": the root folder itself, which exists already.
            if (kind != Kind::kFolder) reject(name, "names the root folder but is not a folder");
        } else {
            std::string target;
            if (kind == Kind::kSymlink) {
                const char* raw_target = archive_entry_symlink(entry);
                target = raw_target != nullptr ? raw_target : "";
                check_link_target(name, parts.size() - 1, target, limits);
            }
            seen.add(name, parts, kind);
            if (writer != nullptr && kind == Kind::kFolder) writer->make_folder(name, parts);
            if (writer != nullptr && kind == Kind::kSymlink)
                writer->make_symlink(name, parts, target);
        }

        std::optional<Fd> file;
        if (writer != nullptr && kind == Kind::kFile) {
            const bool executable = (archive_entry_perm(entry) & 0111) != 0;
            file = writer->create_file(name, parts, executable ? 0755 : 0644);
        }
        // Every entry's data is read and counted (a folder's too): what the header claims is
        // not trusted, what was decompressed is.
        while (true) {
            const la_ssize_t n = archive_read_data(a, block.data(), block.size());
            if (n == 0) break;
            if (n < 0) reject(name, "cannot read the data: " + error_of(a));
            unpacked += static_cast<std::uint64_t>(n);
            if (unpacked > limits.max_unpacked_bytes)
                too_large(name, "the archive unpacks to more than " +
                                    std::to_string(limits.max_unpacked_bytes) + " bytes");
            check_stream(name);
            if (file) write_all(name, *file, block.data(), static_cast<std::size_t>(n));
        }
        if (file && !file->close()) system_failure(name, "close the file");
    }
}

void empty_folder(const fs::path& folder) {
    std::error_code error;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
        fs::remove_all(it->path(), error);
}

// Appends what libarchive writes to a string.
la_ssize_t append_output(archive*, void* out, const void* buffer, size_t size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), size);
    return static_cast<la_ssize_t>(size);
}

void write_header(archive* a, archive_entry* entry, const fs::path& path) {
    if (archive_write_header(a, entry) < ARCHIVE_WARN)
        throw std::runtime_error("cannot archive " + path.string() + ": " + error_of(a));
}

void write_tree(archive* a, const fs::path& root, const fs::path& relative) {
    std::vector<fs::path> children;
    for (const auto& child : fs::directory_iterator(root / relative))
        children.push_back(child.path().filename());
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
        const fs::path name = relative / child;
        const fs::path path = root / name;
        struct stat info {};
        if (::lstat(path.c_str(), &info) != 0) {
            const int code = errno;
            throw std::system_error(code, std::generic_category(),
                                    "cannot archive " + path.string());
        }
        std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), name.generic_string().c_str());
        archive_entry_set_mtime(entry.get(), info.st_mtim.tv_sec, info.st_mtim.tv_nsec);
        archive_entry_set_uid(entry.get(), 0);
        archive_entry_set_gid(entry.get(), 0);
        if (S_ISDIR(info.st_mode)) {
            archive_entry_set_filetype(entry.get(), AE_IFDIR);
            archive_entry_set_perm(entry.get(), 0755);
            write_header(a, entry.get(), path);
            write_tree(a, root, name);
        } else if (S_ISLNK(info.st_mode)) {
            archive_entry_set_filetype(entry.get(), AE_IFLNK);
            archive_entry_set_perm(entry.get(), 0777);
            archive_entry_set_symlink(entry.get(), fs::read_symlink(path).c_str());
            write_header(a, entry.get(), path);
        } else if (S_ISREG(info.st_mode)) {
            archive_entry_set_filetype(entry.get(), AE_IFREG);
            archive_entry_set_perm(entry.get(), (info.st_mode & 0111) != 0 ? 0755 : 0644);
            archive_entry_set_size(entry.get(), info.st_size);
            write_header(a, entry.get(), path);
            std::ifstream in(path, std::ios::binary);
            if (!in)
                throw std::runtime_error("cannot archive " + path.string() + ": cannot open it");
            std::vector<char> block(kBlockBytes);
            std::uint64_t written = 0;
            while (in) {
                in.read(block.data(), static_cast<std::streamsize>(block.size()));
                const auto n = static_cast<std::size_t>(in.gcount());
                if (n == 0) break;
                written += n;
                if (written > static_cast<std::uint64_t>(info.st_size)) break;
                if (archive_write_data(a, block.data(), n) < 0)
                    throw std::runtime_error("cannot archive " + path.string() + ": " +
                                             error_of(a));
            }
            if (in.bad() || written != static_cast<std::uint64_t>(info.st_size))
                throw std::runtime_error("cannot archive " + path.string() +
                                         ": it changed while being read");
        } else {
            throw std::runtime_error("cannot archive " + path.string() +
                                     ": not a regular file, folder or symbolic link");
        }
    }
}

}  // namespace

void check_archive(std::string_view data, const ArchiveLimits& limits) {
    read_entries(data, limits, nullptr);
}

void extract_archive(std::string_view data, const fs::path& dest, const ArchiveLimits& limits) {
    std::error_code error;
    if (!fs::is_directory(dest, error) || !fs::is_empty(dest, error) || error)
        throw std::invalid_argument("extract_archive: " + dest.string() +
                                    " is not an existing empty folder");
    // First every check, with nothing written: a refused archive leaves no trace, and the
    // second pass (the same checks again) only fails for the host's reasons (a full disk).
    read_entries(data, limits, nullptr);
    try {
        TreeWriter writer(dest);
        read_entries(data, limits, &writer);
    } catch (...) {
        empty_folder(dest);
        throw;
    }
}

std::string write_archive(const fs::path& dir, bool gzip) {
    Utf8Locale utf8;
    // Declared before the writer: freeing an unclosed writer (after a throw) flushes into it.
    std::string out;
    std::unique_ptr<archive, WriteFree> writer(archive_write_new());
    if (!writer) throw std::bad_alloc();
    archive* a = writer.get();
    // ustar headers, with pax records only where a name or a size needs them.
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        (gzip && archive_write_add_filter_gzip(a) != ARCHIVE_OK) ||
        (gzip && archive_write_set_filter_option(a, "gzip", "timestamp", nullptr) != ARCHIVE_OK) ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
        throw std::runtime_error("libarchive cannot write tar: " + error_of(a));
    if (archive_write_open(a, &out, nullptr, append_output, nullptr) != ARCHIVE_OK)
        throw std::runtime_error("libarchive cannot write tar: " + error_of(a));
    write_tree(a, dir, fs::path());
    if (archive_write_close(a) != ARCHIVE_OK)
        throw std::runtime_error("cannot archive " + dir.string() + ": " + error_of(a));
    return out;
}

}  // namespace faas
