// The credentials file shared with OpenFaaS's faas-cli: ~/.openfaas/config.yml (the folder can be
// moved with OPENFAAS_CONFIG), mode 0600, one entry per gateway:
//
//   auths:
//   - gateway: http://127.0.0.1:8080
//     auth: basic
//     token: base64(user:password)
//
// so one `login` serves both CLIs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "env.h"
#include "gateway_client.h"

namespace faas::cli {

/// The file: $OPENFAAS_CONFIG/config.yml if set, else <home>/.openfaas/config.yml.
std::filesystem::path credentials_file(const Env& env, const std::filesystem::path& home);

/// The saved credentials for `gateway` (compared without trailing slashes), if any. A file that
/// is not valid is a CliError naming it.
std::optional<BasicCredentials> load_credentials(const std::filesystem::path& file,
                                                 const std::string& gateway);

/// Saves (adds or replaces) the entry for `gateway`, keeping other entries, written atomically
/// with mode 0600 (the folder 0700 if created).
void save_credentials(const std::filesystem::path& file, const std::string& gateway,
                      const BasicCredentials& creds);

/// Removes the entry for `gateway`; false if there was none.
bool remove_credentials(const std::filesystem::path& file, const std::string& gateway);

}  // namespace faas::cli
