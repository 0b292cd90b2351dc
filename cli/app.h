// The CLI as a function, so tests run it in-process with their own streams and environment:
// finds the command in the table, parses its flags, runs it, and turns a CliError into one line
// on stderr and its exit code.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "args.h"
#include "commands.h"
#include "context.h"

namespace faas::cli {

struct Command {
    std::string_view name;   ///< One or two words: "list", "secret create".
    std::string_view usage;  ///< Arguments after the name: "NAME [--replicas N]".
    std::string_view summary;
    std::vector<FlagSpec> flags;  ///< The command's own; global_flags() are added.
    CommandFn run;
};

/// THE command table, in the order `faas --help` lists them.
std::span<const Command> commands();

/// Runs the command line `words` (without the program name). Returns the exit code.
int run(Context& ctx, std::span<const std::string> words);

}  // namespace faas::cli
