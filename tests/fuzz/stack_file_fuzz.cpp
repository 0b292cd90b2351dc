// Fuzz target: the stack file parser (stack files come from anyone's repository). Every input
// either parses or throws StackError/CliError; nothing else may escape, and a parsed function
// written back by render_stack must read back the same.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stack_file.h"

namespace {

bool same(const faas::cli::FunctionSpec& a, const faas::cli::FunctionSpec& b) {
    return a.name == b.name && a.lang == b.lang && a.handler == b.handler && a.image == b.image &&
           a.fprocess == b.fprocess && a.environment == b.environment && a.secrets == b.secrets &&
           a.labels == b.labels && a.annotations == b.annotations &&
           a.constraints == b.constraints && a.build_args == b.build_args &&
           a.build_options == b.build_options && a.skip_build == b.skip_build &&
           a.readonly_root_filesystem == b.readonly_root_filesystem &&
           a.namespace_ == b.namespace_ && a.environment_file == b.environment_file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    faas::MapEnv env({{"REGISTRY", "127.0.0.1:5000"}, {"EMPTY", ""}});
    std::optional<faas::cli::Stack> stack;
    try {
        stack = faas::cli::parse_stack(text, "stack.yml", env);
    } catch (const faas::cli::CliError&) {
    }
    for (const auto& fn : stack ? stack->functions : std::vector<faas::cli::FunctionSpec>{}) {
        if (!faas::cli::is_valid_function_name(fn.name)) __builtin_trap();
        // Whatever was read must survive being written (quoting, "$" as "$$") and read again.
        try {
            const auto back = faas::cli::parse_stack(faas::cli::render_stack("http://gw", fn),
                                                     "r.yml", faas::MapEnv());
            if (back.functions.size() != 1 || !same(back.functions[0], fn)) __builtin_trap();
        } catch (const faas::cli::CliError&) {
            __builtin_trap();
        }
    }
    try {
        faas::cli::FunctionSpec fn;
        fn.name = "added";
        fn.lang = "go";
        fn.handler = "./added";
        fn.image = "added:latest";
        const std::string appended = faas::cli::append_function(text, "stack.yml", fn);
        if (appended.find("added:") == std::string::npos) __builtin_trap();
    } catch (const faas::cli::CliError&) {
    }
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://127.0.0.1:8080\nfunctions:\n "
        " hello:\n"
        "    lang: python3-http\n    handler: ./hello\n    image: "
        "${REGISTRY}/hello:${TAG:-latest}\n",
        "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n    environment:\n      "
        "A: 1\n      B: true\n"
        "    secrets: [s1, s2]\n    labels: {x: y}\n    limits: {memory: 128m, cpu: 0.5}\n"
        "    readonly_root_filesystem: true\n    build_options: [dev]\n    build_args: {K: v}\n",
        "x-a: &a [1, 2]\nx-b: &b [*a, *a]\nfunctions: {}\n",
        "configuration:\n  templates:\n    - name: t\n      source: https://example.com/t.git\n",
        "functions:\n  a: {image: x, skip_build: true, environment_file: [e.yml]}\n",
        "functions:\n  a:\n    enviroment: {}\n",
        "functions: [\n",
        "a: $${X} ${Y:-z}\n",
        "functions:\n  a:\n    image: \"$${X}\\t\\u00e9\"\n    skip_build: yes\n    environment: "
        "{\"k: v\": \"#x\"}\n",
        "# comment\nfunctions:\n    first:\n        image: f\n        skip_build: true\n# "
        "end\nconfiguration: {}\n",
    };
}
