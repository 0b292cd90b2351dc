// The credentials file, read and written as a YAML tree so that what this CLI does not use (other
// gateways' entries, `auth: oauth2` tokens, fields a newer faas-cli adds) survives a save.
#include "credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "base64.h"
#include "cli_error.h"

namespace faas::cli {
namespace {

std::string without_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string errno_text() {
    return std::strerror(errno);
}

/// The whole file as a YAML tree: an empty map when the file does not exist.
YAML::Node read_tree(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return YAML::Node(YAML::NodeType::Map);
        throw CliError("cannot read " + file.string() + ": " + errno_text());
    }
    std::stringstream text;
    text << in.rdbuf();
    YAML::Node root;
    try {
        root = YAML::Load(text.str());
    } catch (const YAML::Exception& error) {
        throw CliError(file.string() + ":" + std::to_string(error.mark.line + 1) +
                       ": not a valid credentials file: " + error.msg);
    }
    if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw CliError(file.string() + ": not a valid credentials file: not a map");
    const YAML::Node auths = root["auths"];
    if (auths && !auths.IsNull() && !auths.IsSequence())
        throw CliError(file.string() + ":" + std::to_string(auths.Mark().line + 1) +
                       ": not a valid credentials file: 'auths' is not a list");
    return root;
}

/// The entry's gateway, or "" when it has none that is a string.
std::string entry_gateway(const YAML::Node& entry) {
    if (!entry.IsMap()) return {};
    const YAML::Node gateway = entry["gateway"];
    if (!gateway || !gateway.IsScalar()) return {};
    return without_trailing_slashes(gateway.as<std::string>());
}

/// Creates the folder (and missing parents) with mode 0700: it holds passwords.
void ensure_private_folder(const std::filesystem::path& folder) {
    if (folder.empty() || std::filesystem::exists(folder)) return;
    ensure_private_folder(folder.parent_path());
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST)
        throw CliError("cannot create " + folder.string() + ": " + errno_text());
}

/// Replaces `file` with `text` atomically: a reader sees the old file or the new one, whole.
void write_atomically(const std::filesystem::path& file, const std::string& text) {
    ensure_private_folder(file.parent_path());
    std::string temp = file.string() + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());  // mode 0600
    if (fd < 0) throw CliError("cannot write " + file.string() + ": " + errno_text());
    auto fail = [&](const std::string& step) {
        const std::string reason = errno_text();
        ::close(fd);
        ::unlink(temp.c_str());
        throw CliError("cannot " + step + " " + file.string() + ": " + reason);
    };
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        written += static_cast<size_t>(n);
    }
    if (::fchmod(fd, 0600) != 0) fail("set the mode of");
    if (::fsync(fd) != 0) fail("write");
    if (::close(fd) != 0) {
        const std::string reason = errno_text();
        ::unlink(temp.c_str());
        throw CliError("cannot write " + file.string() + ": " + reason);
    }
    if (::rename(temp.c_str(), file.c_str()) != 0) {
        const std::string reason = errno_text();
        ::unlink(temp.c_str());
        throw CliError("cannot replace " + file.string() + ": " + reason);
    }
}

std::string render(const YAML::Node& root) {
    YAML::Emitter out;
    out << root;
    if (!out.good()) throw CliError("cannot write the credentials: " + out.GetLastError());
    return std::string(out.c_str()) + "\n";
}

}  // namespace

std::filesystem::path credentials_file(const Env& env, const std::filesystem::path& home) {
    if (auto folder = env.get("OPENFAAS_CONFIG"); folder && !folder->empty())
        return std::filesystem::path(*folder) / "config.yml";
    return home / ".openfaas" / "config.yml";
}

std::optional<BasicCredentials> load_credentials(const std::filesystem::path& file,
                                                 const std::string& gateway) {
    const YAML::Node root = read_tree(file);
    const YAML::Node auths = root["auths"];
    if (!auths || !auths.IsSequence()) return std::nullopt;
    const std::string wanted = without_trailing_slashes(gateway);
    for (const auto& entry : auths) {
        if (entry_gateway(entry) != wanted) continue;
        const YAML::Node auth = entry["auth"];
        // Another kind of login (oauth2) is not ours to use.
        if (!auth || !auth.IsScalar() || auth.as<std::string>() != "basic") return std::nullopt;
        const YAML::Node token = entry["token"];
        std::optional<std::string> decoded;
        if (token && token.IsScalar()) decoded = base64_decode(token.as<std::string>());
        const auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos)
            throw CliError(file.string() + ":" + std::to_string(entry.Mark().line + 1) +
                           ": the token for " + wanted +
                           " is not base64 of user:password; run faas login again");
        return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
    }
    return std::nullopt;
}

void save_credentials(const std::filesystem::path& file, const std::string& gateway,
                      const BasicCredentials& creds) {
    YAML::Node root = read_tree(file);
    const std::string url = without_trailing_slashes(gateway);
    YAML::Node entry(YAML::NodeType::Map);
    entry["gateway"] = url;
    entry["auth"] = "basic";
    entry["token"] = base64_encode(creds.user + ":" + creds.password);

    YAML::Node auths(YAML::NodeType::Sequence);
    bool replaced = false;
    if (YAML::Node old = root["auths"]; old && old.IsSequence()) {
        for (const auto& existing : old) {
            if (entry_gateway(existing) == url) {
                if (!replaced) auths.push_back(entry);  // in its old place
                replaced = true;
            } else {
                auths.push_back(existing);
            }
        }
    }
    if (!replaced) auths.push_back(entry);
    root["auths"] = auths;
    write_atomically(file, render(root));
}

bool remove_credentials(const std::filesystem::path& file, const std::string& gateway) {
    if (!std::filesystem::exists(file)) return false;
    YAML::Node root = read_tree(file);
    YAML::Node old = root["auths"];
    if (!old || !old.IsSequence()) return false;
    const std::string url = without_trailing_slashes(gateway);
    YAML::Node auths(YAML::NodeType::Sequence);
    bool removed = false;
    for (const auto& existing : old) {
        if (entry_gateway(existing) == url)
            removed = true;
        else
            auths.push_back(existing);
    }
    if (!removed) return false;
    root["auths"] = auths;
    write_atomically(file, render(root));
    return true;
}

}  // namespace faas::cli
