// Tar archives: round trips of write_archive and extract_archive, and hostile archives crafted
// with libarchive's writer (or by hand) that must be refused with nothing written anywhere.
#include "archive.h"

#include <doctest/doctest.h>
#include <libarchive.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support/files.h"

namespace fs = std::filesystem;
using faas::ArchiveLimits;
using faas::ArchiveRejected;
using faas::ArchiveTooLarge;
using faas::check_archive;
using faas::extract_archive;
using faas::write_archive;
using faas::test::read_text;
using faas::test::write_text;

namespace doctest {
template <>
struct StringMaker<std::set<std::string>> {
    static String convert(const std::set<std::string>& paths) {
        std::string text = "{";
        for (const auto& path : paths) text += (text.size() > 1 ? ", " : "") + path;
        return (text + "}").c_str();
    }
};
}  // namespace doctest

namespace {

// A temporary folder holding the destination `dest` and a sibling `outside` with one file, so
// that a test can see whether anything was written next to `dest`.
struct Scratch {
    Scratch() {
        std::string pattern = (fs::temp_directory_path() / "faas-archive-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        root = pattern;
        dest = root / "dest";
        fs::create_directory(dest);
        write_text(root / "outside" / "marker", "untouched");
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() {
        std::error_code ignored;
        fs::remove_all(root, ignored);
    }

    fs::path root;
    fs::path dest;
};

// Every path under `dir`, relative, links not followed; folders end with '/'.
std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> paths;
    for (const auto& item : fs::recursive_directory_iterator(dir)) {
        std::string path = item.path().lexically_relative(dir).generic_string();
        if (item.is_directory() && !item.is_symlink()) path += '/';
        paths.insert(path);
    }
    return paths;
}

// Nothing but `dest` (and its content) and the untouched sibling.
void check_nothing_outside(const Scratch& scratch) {
    std::set<std::string> outside;
    for (const auto& path : listing(scratch.root))
        if (path == "dest/" || path.rfind("dest/", 0) != 0) outside.insert(path);
    CHECK(outside == std::set<std::string>{"dest/", "outside/", "outside/marker"});
    CHECK(read_text(scratch.root / "outside" / "marker") == "untouched");
}

struct Outcome {
    std::string kind;  ///< "ok", "rejected", "too large", or "other: <what>".
    std::string message;
};

Outcome outcome_of(const std::function<void()>& run) {
    try {
        run();
        return {"ok", ""};
    } catch (const ArchiveTooLarge& e) {
        return {"too large", e.what()};
    } catch (const ArchiveRejected& e) {
        return {"rejected", e.what()};
    } catch (const std::exception& e) {
        return {std::string("other: ") + e.what(), e.what()};
    }
}

// Extracts `data` into a fresh scratch folder expecting a refusal: the kind of it, what it says
// (one line), check_archive agreeing, and nothing left anywhere.
Outcome refusal(const std::string& data, const ArchiveLimits& limits = {}) {
    Scratch scratch;
    Outcome extracted = outcome_of([&] { extract_archive(data, scratch.dest, limits); });
    CHECK(fs::is_empty(scratch.dest));
    check_nothing_outside(scratch);
    CHECK(extracted.message.find('\n') == std::string::npos);
    const Outcome checked = outcome_of([&] { check_archive(data, limits); });
    CHECK(checked.kind == extracted.kind);
    return extracted;
}

// One entry for libarchive's writer, set by hand so that anything can be crafted.
struct Item {
    std::string name;
    unsigned type = AE_IFREG;
    std::string data{};
    std::string symlink{};
    std::string hardlink{};
    int perm = 0644;
};

Item file(const std::string& name, const std::string& data = "", int perm = 0644) {
    return {name, AE_IFREG, data, "", "", perm};
}
Item folder(const std::string& name, int perm = 0755) {
    return {name, AE_IFDIR, "", "", "", perm};
}
Item symlink_to(const std::string& name, const std::string& target) {
    return {name, AE_IFLNK, "", target, "", 0777};
}
Item hard_link(const std::string& name, const std::string& to) {
    return {name, AE_IFREG, "", "", to, 0644};
}
Item special(const std::string& name, unsigned type) {
    return {name, type, "", "", "", 0644};
}

struct Crafted {
    bool gzip = false;
    int format = ARCHIVE_FORMAT_TAR_PAX_RESTRICTED;
    const char* filter = nullptr;  ///< e.g. "xz": another compression instead of gzip.
};

la_ssize_t append_to(archive*, void* out, const void* buffer, size_t size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), size);
    return static_cast<la_ssize_t>(size);
}

// An archive writer appending to `out`; nullptr if libarchive cannot write that kind.
archive* open_writer(std::string& out, const Crafted& how) {
    archive* a = archive_write_new();
    bool ok = archive_write_set_format(a, how.format) == ARCHIVE_OK;
    if (how.gzip) ok = ok && archive_write_add_filter_gzip(a) == ARCHIVE_OK;
    if (how.filter != nullptr)
        ok = ok && archive_write_add_filter_by_name(a, how.filter) == ARCHIVE_OK;
    ok = ok && archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK;
    ok = ok && archive_write_open(a, &out, nullptr, append_to, nullptr) == ARCHIVE_OK;
    if (!ok) {
        archive_write_free(a);
        return nullptr;
    }
    return a;
}

archive_entry* new_entry(const Item& item, la_int64_t size) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, item.name.c_str());
    archive_entry_set_filetype(entry, item.type);
    archive_entry_set_perm(entry, item.perm);
    archive_entry_set_size(entry, size);
    if (!item.symlink.empty()) archive_entry_set_symlink(entry, item.symlink.c_str());
    if (!item.hardlink.empty()) archive_entry_set_hardlink(entry, item.hardlink.c_str());
    if (item.type == AE_IFCHR) archive_entry_set_rdev(entry, makedev(1, 3));
    return entry;
}

std::string craft(const std::vector<Item>& items, const Crafted& how = {}) {
    std::string out;
    archive* a = open_writer(out, how);
    REQUIRE(a != nullptr);
    for (const auto& item : items) {
        archive_entry* entry = new_entry(item, static_cast<la_int64_t>(item.data.size()));
        const int status = archive_write_header(a, entry);
        archive_entry_free(entry);
        REQUIRE_MESSAGE(status == ARCHIVE_OK, archive_error_string(a));
        if (!item.data.empty())
            REQUIRE(archive_write_data(a, item.data.data(), item.data.size()) ==
                    static_cast<la_ssize_t>(item.data.size()));
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

// One file of `size` zero bytes, written a block at a time (the test holds only the result).
std::string craft_zeros(const std::string& name, std::uint64_t size, bool gzip) {
    std::string out;
    archive* a = open_writer(out, {gzip});
    REQUIRE(a != nullptr);
    archive_entry* entry = new_entry(file(name), static_cast<la_int64_t>(size));
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    archive_entry_free(entry);
    const std::string block(1 << 20, '\0');
    for (std::uint64_t left = size; left > 0;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
        REQUIRE(archive_write_data(a, block.data(), n) == static_cast<la_ssize_t>(n));
        left -= n;
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

// A ustar header block written by hand (libarchive's writer refuses some names, e.g. "").
std::string ustar_block(const std::string& name, char type, std::size_t size) {
    std::string block(512, '\0');
    std::memcpy(&block[0], name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(&block[100], 8, "%07o", 0644);
    std::snprintf(&block[108], 8, "%07o", 0);
    std::snprintf(&block[116], 8, "%07o", 0);
    std::snprintf(&block[124], 12, "%011zo", size);
    std::snprintf(&block[136], 12, "%011o", 0);
    block[156] = type;
    std::memcpy(&block[257],
                "ustar\0"
                "00",
                8);
    std::memset(&block[148], ' ', 8);
    unsigned sum = 0;
    for (char c : block) sum += static_cast<unsigned char>(c);
    std::snprintf(&block[148], 8, "%06o", sum);
    return block;
}

// A tar by hand: one entry with `data` (padded), then the end-of-archive blocks.
std::string hand_tar(const std::string& name, char type, const std::string& data,
                     std::size_t claimed_size) {
    std::string tar = ustar_block(name, type, claimed_size) + data;
    tar.append((512 - data.size() % 512) % 512, '\0');
    return tar + std::string(1024, '\0');
}

// The files of the round-trip tree: an executable, a plain file, a symlink, an empty folder.
void make_tree(const fs::path& dir) {
    write_text(dir / "README.md", "hello\n");
    write_text(dir / "bin" / "run.sh", "#!/bin/sh\necho hi\n");
    fs::permissions(dir / "bin" / "run.sh", fs::perms::owner_all | fs::perms::group_read);
    fs::permissions(dir / "README.md", fs::perms::owner_read | fs::perms::owner_write);
    write_text(dir / "function" / "handler.py", std::string(200000, 'x'));
    fs::create_directories(dir / "empty");
    fs::create_symlink("../README.md", dir / "function" / "README.link");
}

void check_tree(const fs::path& dir) {
    CHECK(listing(dir) == std::set<std::string>{"README.md", "bin/", "bin/run.sh", "empty/",
                                                "function/", "function/README.link",
                                                "function/handler.py"});
    CHECK(read_text(dir / "README.md") == "hello\n");
    CHECK(read_text(dir / "bin" / "run.sh") == "#!/bin/sh\necho hi\n");
    CHECK(read_text(dir / "function" / "handler.py") == std::string(200000, 'x'));
    CHECK(fs::read_symlink(dir / "function" / "README.link") == "../README.md");
    CHECK(fs::status(dir / "bin" / "run.sh").permissions() == static_cast<fs::perms>(0755));
    CHECK(fs::status(dir / "README.md").permissions() == static_cast<fs::perms>(0644));
    CHECK(fs::status(dir / "empty").permissions() == static_cast<fs::perms>(0755));
}

}  // namespace

TEST_CASE("archive: a tree written plain and gzip'd comes back the same") {
    Scratch source;
    make_tree(source.dest);
    for (bool gzip : {false, true}) {
        CAPTURE(gzip);
        const std::string data = write_archive(source.dest, gzip);
        CHECK((data.size() > 2 && data[0] == '\x1f' && data[1] == '\x8b') == gzip);
        CHECK(write_archive(source.dest, gzip) == data);  // the same tree, the same bytes
        Scratch target;
        extract_archive(data, target.dest, {});
        check_tree(target.dest);
        check_nothing_outside(target);
    }
}

TEST_CASE("archive: names that are not ASCII are read, from write_archive and from pax records") {
    Scratch source;
    write_text(source.dest / "caf\xc3\xa9" / "\xe6\x97\xa5\xe6\x9c\xac.txt", "utf-8");
    Scratch target;
    extract_archive(write_archive(source.dest, true), target.dest, {});
    CHECK(read_text(target.dest / "caf\xc3\xa9" / "\xe6\x97\xa5\xe6\x9c\xac.txt") == "utf-8");

    // As other tools write them (python's tarfile, bsdtar): a pax record "path=" in UTF-8, which
    // libarchive converts to the locale's charset (this program runs in the "C" locale).
    const std::string record = "18 path=caf\xc3\xa9.txt\n";
    REQUIRE(record.size() == 18);
    std::string pax = ustar_block("PaxHeaders/cafe", 'x', record.size()) + record;
    pax.append(512 - record.size(), '\0');
    pax += hand_tar("cafe.txt", '0', "pax", 3);
    Scratch from_pax;
    extract_archive(pax, from_pax.dest, {});
    CHECK(listing(from_pax.dest) == std::set<std::string>{"caf\xc3\xa9.txt"});
}

TEST_CASE("archive: write_archive refuses a fifo, naming it") {
    Scratch source;
    write_text(source.dest / "a", "a");
    REQUIRE(::mkfifo((source.dest / "pipe").c_str(), 0600) == 0);
    const Outcome written = outcome_of([&] { write_archive(source.dest, false); });
    CHECK(written.kind.rfind("other: ", 0) == 0);
    CHECK(written.message.find("pipe") != std::string::npos);
}

TEST_CASE("archive: './' prefixes, the root entry and implicit folders are accepted") {
    const std::string data = craft({folder("./", 0755), file("./a/b//c.txt", "c"),
                                    folder("./a/", 0700), symlink_to("d/e/link", "../../a/b/c.txt"),
                                    file("setuid", "s", 06755), folder("sticky/", 01777)});
    Scratch scratch;
    extract_archive(data, scratch.dest, {});
    CHECK(listing(scratch.dest) == std::set<std::string>{"a/", "a/b/", "a/b/c.txt", "d/", "d/e/",
                                                         "d/e/link", "setuid", "sticky/"});
    CHECK(read_text(scratch.dest / "d" / "e" / "link") == "c");
    CHECK(fs::status(scratch.dest / "a").permissions() == static_cast<fs::perms>(0755));
    CHECK(fs::status(scratch.dest / "setuid").permissions() == static_cast<fs::perms>(0755));
    CHECK(fs::status(scratch.dest / "sticky").permissions() == static_cast<fs::perms>(0755));
    check_nothing_outside(scratch);
}

TEST_CASE("archive: names that climb out, are absolute, empty or odd are refused") {
    Scratch elsewhere;
    const std::string absolute = (elsewhere.root / "planted").string();
    for (const std::string& name :
         {std::string("../x"), std::string("a/../../x"), std::string("a/../b"), std::string(".."),
          absolute, std::string("a\nb"), std::string("a\x7f"), std::string("a\x1b[31m")}) {
        CAPTURE(name);
        const Outcome refused = refusal(craft({file("ok", "fine"), file(name, "x")}));
        CHECK(refused.kind == "rejected");
        CHECK(refused.message.find("archive entry \"") == 0);
    }
    CHECK_FALSE(fs::exists(absolute));
    CHECK(refusal(hand_tar("", '0', "x", 1)).kind == "rejected");
    CHECK(refusal(craft({file(".", "x")})).kind == "rejected");
}

TEST_CASE("archive: names over the length or depth limit are refused") {
    ArchiveLimits limits;
    limits.max_path_bytes = 50;
    limits.max_depth = 3;
    CHECK(refusal(craft({file(std::string(51, 'a'), "x")}), limits).kind == "rejected");
    CHECK(refusal(craft({file("a/b/c/d", "x")}), limits).kind == "rejected");
    CHECK(refusal(craft({file(std::string(256, 'a'), "x")})).kind == "rejected");
    Scratch scratch;
    extract_archive(craft({file("./a/b/c", "x")}), scratch.dest, limits);
    CHECK(read_text(scratch.dest / "a" / "b" / "c") == "x");
}

TEST_CASE("archive: hard links, devices and fifos are refused") {
    const Outcome hardlink = refusal(craft({file("a", "x"), hard_link("b", "a")}));
    CHECK(hardlink.kind == "rejected");
    CHECK(hardlink.message.find("\"b\"") != std::string::npos);
    CHECK(refusal(craft({special("null", AE_IFCHR)})).kind == "rejected");
    CHECK(refusal(craft({special("disk", AE_IFBLK)})).kind == "rejected");
    CHECK(refusal(craft({special("pipe", AE_IFIFO)})).kind == "rejected");
    CHECK(refusal(hand_tar("link", '1', "", 0)).kind == "rejected");
}

TEST_CASE("archive: symbolic links that leave the folder are refused") {
    for (const auto& [name, target] :
         std::vector<std::pair<std::string, std::string>>{{"l", ".."},
                                                          {"l", "../outside/marker"},
                                                          {"d/l", "../../x"},
                                                          {"l", "/etc/passwd"},
                                                          {"l", "a/../../x"},
                                                          {"l", ""},
                                                          {"l", "a\nb"}}) {
        CAPTURE(name);
        CAPTURE(target);
        const Outcome refused = refusal(craft({symlink_to(name, target)}));
        CHECK(refused.kind == "rejected");
        CHECK(refused.message.find(name) != std::string::npos);
    }
    // Each target alone stays inside, but "l1/.." is the parent of wherever l1 points: the root.
    CHECK(refusal(craft({symlink_to("d/l1", ".."), symlink_to("d/l2", "l1/..")})).kind ==
          "rejected");
}

TEST_CASE("archive: nothing is written through a symbolic link or a file") {
    const Outcome through_link =
        refusal(craft({folder("sub/", 0755), symlink_to("l", "sub"), file("l/f", "x")}));
    CHECK(through_link.kind == "rejected");
    CHECK(through_link.message.find("\"l/f\"") != std::string::npos);
    CHECK(refusal(craft({symlink_to("l", "sub"), folder("l/d/")})).kind == "rejected");
    CHECK(refusal(craft({file("f", "x"), file("f/g", "y")})).kind == "rejected");
}

TEST_CASE("archive: the same path twice is refused, however it is spelled") {
    CHECK(refusal(craft({file("a", "1"), file("./a", "2")})).kind == "rejected");
    CHECK(refusal(craft({folder("d/"), folder("d")})).kind == "rejected");
    CHECK(refusal(craft({file("a", "1"), folder("a/")})).kind == "rejected");
    CHECK(refusal(craft({symlink_to("a", "b"), file("a", "x")})).kind == "rejected");
    CHECK(refusal(craft({file("a/b", "1"), file("a", "2")})).kind == "rejected");
}

TEST_CASE("archive: too many entries or too many bytes is too large") {
    ArchiveLimits limits;
    limits.max_entries = 3;
    CHECK(refusal(craft({file("a"), file("b"), file("c"), file("d")}), limits).kind == "too large");
    limits = {};
    limits.max_unpacked_bytes = 10;
    CHECK(refusal(craft({file("a", "12345"), file("b", "123456")}), limits).kind == "too large");
    Scratch scratch;
    extract_archive(craft({file("a", "12345"), file("b", "12345")}), scratch.dest, limits);
    CHECK(read_text(scratch.dest / "b") == "12345");
}

TEST_CASE("archive: a gzip bomb stops at the limit") {
    const std::string bomb = craft_zeros("zeros", 300ULL << 20, true);
    CHECK(bomb.size() < (1 << 20));
    const Outcome refused = refusal(bomb);
    CHECK(refused.kind == "too large");
    CHECK(refused.message.find("\"zeros\"") != std::string::npos);
}

TEST_CASE("archive: what is not a whole tar or tar.gz is refused") {
    CHECK(refusal("").kind == "rejected");
    CHECK(refusal(std::string(3000, 'g')).kind == "rejected");
    CHECK(refusal("\x1f\x8b garbage after a gzip magic").kind == "rejected");

    Scratch source;
    write_text(source.dest / "big", std::string(100000, 'b'));
    write_text(source.dest / "small", "s");
    const std::string gzipped = write_archive(source.dest, true);
    CHECK(refusal(gzipped.substr(0, gzipped.size() / 2)).kind == "rejected");
    const std::string plain = write_archive(source.dest, false);
    CHECK(refusal(plain.substr(0, 50000)).kind == "rejected");
    // The header claims more data than there is.
    CHECK(refusal(ustar_block("short", '0', 5000) + std::string(600, 'x')).kind == "rejected");

    // Other formats and compressions libarchive knows are not read.
    CHECK(refusal(craft({file("a", "x")}, {false, ARCHIVE_FORMAT_ZIP})).kind == "rejected");
    CHECK(refusal(craft({file("a", "x")}, {false, ARCHIVE_FORMAT_CPIO_POSIX})).kind == "rejected");
    for (const char* filter : {"xz", "bzip2", "compress"}) {
        CAPTURE(filter);
        std::string out;
        archive* a = open_writer(out, {false, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, filter});
        if (a == nullptr) continue;  // this libarchive cannot write it either
        archive_write_free(a);
        CHECK(refusal(craft({file("a", "x")}, {false, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, filter}))
                  .kind == "rejected");
    }
}

TEST_CASE("archive: an empty tar is accepted, and the destination must be an empty folder") {
    Scratch scratch;
    extract_archive(std::string(1024, '\0'), scratch.dest, {});
    CHECK(fs::is_empty(scratch.dest));
    write_text(scratch.dest / "already", "here");
    const std::string data = craft({file("a", "x")});
    CHECK_THROWS_AS(extract_archive(data, scratch.dest, {}), std::invalid_argument);
    CHECK_THROWS_AS(extract_archive(data, scratch.root / "missing", {}), std::invalid_argument);
    CHECK(listing(scratch.dest) == std::set<std::string>{"already"});
}
