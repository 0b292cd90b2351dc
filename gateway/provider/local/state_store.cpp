// Deployment and secret files of the local provider.
#include "provider/local/state_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "log.h"
#include "names.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<std::string> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& content, mode_t mode) {
    auto temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw ProviderUnavailable("cannot write " + temporary);
        out << content;
        out.flush();
        if (!out) throw ProviderUnavailable("cannot write " + temporary);
    }
    ::chmod(temporary.c_str(), mode);
    std::error_code ec;
    fs::rename(temporary, path, ec);
    if (ec) throw ProviderUnavailable("cannot write " + path + ": " + ec.message());
}

StateStore::StateStore(const std::string& state_dir, std::string function_namespace)
    : function_namespace_(std::move(function_namespace)) {
    fs::path root(state_dir);
    functions_dir_ = (root / "functions").string();
    secrets_dir_ = (root / "secrets").string();
    run_dir_ = (root / "run").string();
    std::error_code ec;
    fs::create_directories(functions_dir_, ec);
    if (!ec) fs::create_directories(secrets_dir_, ec);
    if (!ec) {
        // Replica directories of a previous run belong to processes that are gone.
        fs::remove_all(run_dir_, ec);
        fs::create_directories(run_dir_, ec);
    }
    if (ec) throw ProviderUnavailable("state_dir " + state_dir + " is not usable: " + ec.message());
    ::chmod(secrets_dir_.c_str(), 0700);
}

std::vector<StoredFunction> StateStore::load_functions(int max_replicas) const {
    std::vector<StoredFunction> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(functions_dir_, ec)) {
        if (entry.path().extension() != ".json") continue;
        try {
            auto content = read_file(entry.path());
            if (!content) throw BadRequest("unreadable");
            auto state = json::parse(*content);
            StoredFunction function;
            function.deployment = deployment_from_json(state.at("deployment"), function_namespace_);
            if (function.deployment.service != entry.path().stem().string())
                throw BadRequest("file name does not match the service");
            function.replicas = std::clamp(state.at("replicas").get<int>(), 0, max_replicas);
            function.created_at = state.at("createdAt").get<std::string>();
            out.push_back(std::move(function));
        } catch (const std::exception& e) {
            log_line("Skipping persisted deployment " + entry.path().string() + ": " + e.what());
        }
    }
    return out;
}

void StateStore::save_function(const StoredFunction& function) const {
    json state = {{"deployment", function.deployment.raw},
                  {"replicas", function.replicas},
                  {"createdAt", function.created_at}};
    write_file_atomically((fs::path(functions_dir_) / (function.deployment.service + ".json")),
                          state.dump(2), 0600);
}

void StateStore::remove_function(const std::string& name) const {
    std::error_code ec;
    fs::remove(fs::path(functions_dir_) / (name + ".json"), ec);
    if (ec) throw ProviderUnavailable("cannot remove the state of " + name + ": " + ec.message());
}

std::vector<std::string> StateStore::secret_names() const {
    std::lock_guard lock(secrets_mutex_);
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(secrets_dir_, ec)) {
        auto name = entry.path().filename().string();
        if (is_valid_secret_name(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<std::string> StateStore::read_secret(const std::string& name) const {
    std::lock_guard lock(secrets_mutex_);
    return read_file(fs::path(secrets_dir_) / name);
}

void StateStore::create_secret(const std::string& name, const std::string& value) const {
    std::lock_guard lock(secrets_mutex_);
    auto path = fs::path(secrets_dir_) / name;
    if (fs::exists(path)) throw AlreadyExists("secret " + name + " already exists");
    write_file_atomically(path, value, 0600);
}

void StateStore::update_secret(const std::string& name, const std::string& value) const {
    std::lock_guard lock(secrets_mutex_);
    auto path = fs::path(secrets_dir_) / name;
    if (!fs::exists(path)) throw NotFound("secret " + name + " not found");
    write_file_atomically(path, value, 0600);
}

void StateStore::remove_secret(const std::string& name) const {
    std::lock_guard lock(secrets_mutex_);
    std::error_code ec;
    if (!fs::remove(fs::path(secrets_dir_) / name, ec)) {
        if (ec) throw ProviderUnavailable("cannot remove secret " + name + ": " + ec.message());
        throw NotFound("secret " + name + " not found");
    }
}

}  // namespace faas::gateway
