// faas: the command line. Everything is in the faas_cli library (app.cpp); this only hands it
// the process's environment and streams.
#include <curl/curl.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "app.h"

int main(int argc, char** argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    std::ios::sync_with_stdio(false);
    const faas::OsEnv env;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const char* home = std::getenv("HOME");
    if (!home || !*home) {
        const passwd* user = getpwuid(getuid());
        home = user ? user->pw_dir : "/";
    }
    faas::cli::Context ctx{env,
                           std::cin,
                           std::cout,
                           std::cerr,
                           ec ? std::filesystem::path() : exe.parent_path(),
                           std::filesystem::path(home)};
    const std::vector<std::string> words(argv + 1, argv + argc);
    const int code = faas::cli::run(ctx, words);
    std::cout.flush();
    curl_global_cleanup();
    return code;
}
