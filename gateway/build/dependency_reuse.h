// Reusing what a function's previous version installed: when the files the template's install
// steps read (requirements.txt, package.json) are the same as in that version, the installed
// folders (deps, node_modules) are hard-linked from it and the install steps do not run. This
// is the local builder's counterpart of Docker's layer cache, and what makes a handler-only
// change live in about a second.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "function_template.h"

namespace faas::gateway {

/// The first of `dependencies.files` that differs between the folders `previous` and `work`
/// (by content; absent from both is the same), or nullopt when none does. A file that cannot
/// be read counts as different.
std::optional<std::string> first_changed_file(const LocalDependencies& dependencies,
                                              const std::filesystem::path& previous,
                                              const std::filesystem::path& work);

/// Replaces each of `dependencies.installed` in `work` by hard links to what `previous` has
/// there (symbolic links are copied as links, never followed); a path `previous` lacks is only
/// removed from `work`. Throws std::filesystem::filesystem_error.
void link_installed(const LocalDependencies& dependencies, const std::filesystem::path& previous,
                    const std::filesystem::path& work);

}  // namespace faas::gateway
