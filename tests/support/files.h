// Small files for tests: write a text (making its folders), read one back whole.
#pragma once

#include <filesystem>
#include <string>

namespace faas::test {

/// Writes `text` to `file` (binary, replacing it), creating its parent folders.
void write_text(const std::filesystem::path& file, const std::string& text);

/// The whole content of `file`; "" if it cannot be read.
std::string read_text(const std::filesystem::path& file);

}  // namespace faas::test
