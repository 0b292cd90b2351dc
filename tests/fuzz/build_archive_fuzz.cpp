// Fuzz target: the checks on a build context archive (a tar or tar.gz a client uploads to the
// gateway). Any input is either accepted or refused with ArchiveRejected; any other exception
// or a crash is a bug. Small limits make the size checks reachable.
#include <libarchive.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "archive.h"

namespace {

void check(std::string_view input, const faas::ArchiveLimits& limits) {
    try {
        faas::check_archive(input, limits);
    } catch (const faas::ArchiveRejected& e) {
        if (std::string_view(e.what()).find('\n') != std::string_view::npos) __builtin_trap();
    }
}

la_ssize_t append_to(archive*, void* out, const void* buffer, size_t size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), size);
    return static_cast<la_ssize_t>(size);
}

struct Item {
    const char* name;
    unsigned type;
    std::string data;
    const char* symlink = nullptr;
    const char* hardlink = nullptr;
};

// A seed archive written with libarchive (names that the gateway must refuse included).
std::string seed(const std::vector<Item>& items, bool gzip) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip) archive_write_add_filter_gzip(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, append_to, nullptr);
    for (const auto& item : items) {
        archive_entry* entry = archive_entry_new();
        archive_entry_set_pathname(entry, item.name);
        archive_entry_set_filetype(entry, item.type);
        archive_entry_set_perm(entry, 0755);
        archive_entry_set_size(entry, static_cast<la_int64_t>(item.data.size()));
        if (item.symlink != nullptr) archive_entry_set_symlink(entry, item.symlink);
        if (item.hardlink != nullptr) archive_entry_set_hardlink(entry, item.hardlink);
        archive_write_header(a, entry);
        archive_entry_free(entry);
        if (!item.data.empty()) archive_write_data(a, item.data.data(), item.data.size());
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<char> bytes(data, data + size);
    const std::string_view input(bytes.data(), bytes.size());
    check(input, faas::ArchiveLimits{});
    faas::ArchiveLimits small;
    small.max_unpacked_bytes = 64;
    small.max_entries = 3;
    small.max_path_bytes = 16;
    small.max_depth = 2;
    check(input, small);
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    const std::vector<Item> tree = {{"./", AE_IFDIR, ""},
                                    {"template.yml", AE_IFREG, "language: python3\n"},
                                    {"function/", AE_IFDIR, ""},
                                    {"function/handler.py", AE_IFREG, std::string(700, 'h')},
                                    {"function/link", AE_IFLNK, "", "../template.yml"}};
    const std::vector<Item> hostile = {
        {"a", AE_IFREG, "x"},   {"../escape", AE_IFREG, "x"},      {"l", AE_IFLNK, "", "/etc"},
        {"l/f", AE_IFREG, "x"}, {"h", AE_IFREG, "", nullptr, "a"}, {"a", AE_IFREG, "dup"}};
    const std::string long_name(300, 'n');
    const std::vector<Item> pax = {{long_name.c_str(), AE_IFREG, "long"},
                                   {"caf\xc3\xa9", AE_IFREG, "utf-8"}};
    return {seed(tree, false),    seed(tree, true),
            seed(hostile, false), seed(pax, false),
            seed(pax, true),      std::string(1024, '\0'),
            "not a tar",          std::string("\x1f\x8b\x08\x00", 4)};
}
