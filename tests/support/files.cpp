// Small files for tests.
#include "support/files.h"

#include <fstream>
#include <sstream>

namespace faas::test {

void write_text(const std::filesystem::path& file, const std::string& text) {
    if (!file.parent_path().empty()) std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace faas::test
