// The stack file: every field, substitution, bad files with their line numbers, environment
// files, and writing (render_stack, append_function).
#include "stack_file.h"

#include <doctest/doctest.h>

#include <fstream>

#include "support/process.h"

using namespace faas;
using namespace faas::cli;

namespace {

Stack parse(const std::string& text, const MapEnv& env = MapEnv()) {
    return parse_stack(text, "dir/stack.yml", env);
}

/// The message of the StackError that parsing `text` throws ("" if it does not throw).
std::string error_of(const std::string& text, const MapEnv& env = MapEnv()) {
    try {
        parse(text, env);
    } catch (const StackError& error) {
        return error.what();
    }
    return "";
}

void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

const char* kFullStack = R"(version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
  network: func_functions
configuration:
  templates:
    - name: python3-http
      source: https://github.com/openfaas/python-flask-template
functions:
  hello:
    lang: python3-http
    handler: ./hello
    image: 127.0.0.1:5000/hello:latest
    fprocess: python3 index.py
    namespace: staging
    environment:
      write_debug: true
      max_inflight: 10
      ratio: 1.5
      greeting: "hi: there"
      empty:
    environment_file:
      - env.yml
      - more.yml
    secrets:
      - api-key
      - db-password
    labels:
      com.openfaas.scale.min: 2
      team: web
    annotations:
      topic: orders
    constraints:
      - node.role==worker
    limits:
      memory: 128m
      cpu: 0.5
    requests:
      memory: 64m
      cpu: "0.25"
    readonly_root_filesystem: true
    build_args:
      GO111MODULE: on
      TEST_ENABLED: false
    build_options:
      - dev
      - pillow
  fetched:
    image: ghcr.io/x/fetched:1.0
    skip_build: true
)";

}  // namespace

TEST_CASE("every field of a stack file is read") {
    const Stack stack = parse(kFullStack);
    CHECK(stack.version == "1.0");
    CHECK(stack.provider_name == "openfaas");
    CHECK(stack.gateway == "http://127.0.0.1:8080");
    CHECK(stack.path == "dir/stack.yml");
    CHECK(stack.dir == "dir");
    REQUIRE(stack.templates.size() == 1);
    CHECK(stack.templates[0].name == "python3-http");
    CHECK(stack.templates[0].source == "https://github.com/openfaas/python-flask-template");
    REQUIRE(stack.functions.size() == 2);

    const FunctionSpec& fn = stack.functions[0];
    CHECK(fn.name == "hello");
    CHECK(fn.line == 11);
    CHECK(fn.lang == "python3-http");
    CHECK(fn.handler == "./hello");
    CHECK(fn.image == "127.0.0.1:5000/hello:latest");
    CHECK(fn.fprocess == "python3 index.py");
    CHECK(fn.namespace_ == "staging");
    CHECK(fn.environment == std::map<std::string, std::string>{{"write_debug", "true"},
                                                               {"max_inflight", "10"},
                                                               {"ratio", "1.5"},
                                                               {"greeting", "hi: there"},
                                                               {"empty", ""}});
    CHECK(fn.environment_file == std::vector<std::string>{"env.yml", "more.yml"});
    CHECK(fn.secrets == std::vector<std::string>{"api-key", "db-password"});
    CHECK(fn.labels ==
          std::map<std::string, std::string>{{"com.openfaas.scale.min", "2"}, {"team", "web"}});
    CHECK(fn.annotations == std::map<std::string, std::string>{{"topic", "orders"}});
    CHECK(fn.constraints == std::vector<std::string>{"node.role==worker"});
    REQUIRE(fn.limits);
    CHECK(fn.limits->memory == "128m");
    CHECK(fn.limits->cpu == "0.5");
    REQUIRE(fn.requests);
    CHECK(fn.requests->memory == "64m");
    CHECK(fn.requests->cpu == "0.25");
    CHECK(fn.readonly_root_filesystem);
    CHECK(fn.build_args ==
          std::map<std::string, std::string>{{"GO111MODULE", "on"}, {"TEST_ENABLED", "false"}});
    CHECK(fn.build_options == std::vector<std::string>{"dev", "pillow"});
    CHECK_FALSE(fn.skip_build);

    const FunctionSpec& fetched = stack.functions[1];
    CHECK(fetched.name == "fetched");
    CHECK(fetched.skip_build);
    CHECK(fetched.lang.empty());
    CHECK(fetched.image == "ghcr.io/x/fetched:1.0");
    CHECK_FALSE(fetched.limits);
    CHECK_FALSE(fetched.readonly_root_filesystem);
}

TEST_CASE("functions keep the file's order, and empty sections are allowed") {
    const Stack stack = parse(
        "provider: {name: faas}\nfunctions:\n  zeta: {lang: go, handler: ./z, image: z}\n"
        "  alpha: {lang: go, handler: ./a, image: a, secrets: , environment: }\n");
    REQUIRE(stack.functions.size() == 2);
    CHECK(stack.functions[0].name == "zeta");
    CHECK(stack.functions[1].name == "alpha");
    CHECK(stack.functions[1].secrets.empty());
    CHECK(stack.provider_name == "faas");
    CHECK(parse("functions:\n").functions.empty());
    CHECK(parse_stack("functions: {}\n", "stack.yml", MapEnv()).dir == ".");
}

TEST_CASE("x- keys at the top hold anchors and are otherwise ignored") {
    const Stack stack = parse(
        "x-env: &env\n  A: 1\nfunctions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n    "
        "environment: *env\n");
    CHECK(stack.functions[0].environment.at("A") == "1");
}

TEST_CASE("substitution: ${VAR}, defaults, $$ and unset variables") {
    const MapEnv env({{"USER_NAME", "alice"}, {"EMPTY", ""}, {"TAG", "1.2"}});
    CHECK(substitute_env("image: ${USER_NAME}/fn:${TAG}", env, "f") == "image: alice/fn:1.2");
    CHECK(substitute_env("${UNSET}", env, "f") == "");
    CHECK(substitute_env("${UNSET:-latest}", env, "f") == "latest");
    CHECK(substitute_env("${EMPTY:-fallback}", env, "f") == "fallback");
    CHECK(substitute_env("${USER_NAME:-bob}", env, "f") == "alice");
    CHECK(substitute_env("${UNSET:-}", env, "f") == "");
    CHECK(substitute_env("${UNSET:-a b:c}", env, "f") == "a b:c");
    CHECK(substitute_env("cost: $$5 and $$${TAG}", env, "f") == "cost: $5 and $1.2");
    CHECK(substitute_env("echo $HOME $", env, "f") == "echo $HOME $");
    CHECK(substitute_env("no variables", env, "f") == "no variables");
}

TEST_CASE("substitution errors name the file and line") {
    MapEnv env;
    env.set("MULTI", "a\nb");
    auto error = [&](const std::string& text) {
        try {
            substitute_env(text, env, "s.yml");
        } catch (const StackError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error("a: 1\nb: ${OPEN\nc: }") ==
          "s.yml:2: unclosed ${ (end it with }, or write $$ for a literal $)");
    CHECK(error("a: 1\n\nb: ${NEVER").rfind("s.yml:3: unclosed ${", 0) == 0);
    CHECK(error("x: ${1BAD}").rfind("s.yml:1: bad substitution ${1BAD}", 0) == 0);
    CHECK(error("x: ${A-b}").rfind("s.yml:1: bad substitution ${A-b}", 0) == 0);
    CHECK(error("x: ${}").rfind("s.yml:1: bad substitution", 0) == 0);
    CHECK(error("\n\nx: ${MULTI}") ==
          "s.yml:3: ${MULTI} holds a line break; a substituted value must stay on its line");
}

TEST_CASE("substitution happens before parsing, keeping line numbers") {
    const MapEnv env({{"REGISTRY", "127.0.0.1:5000"}, {"SECRET_FLAG", "true"}});
    const Stack stack = parse(
        "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: "
        "${REGISTRY}/a:${TAG:-latest}\n"
        "    readonly_root_filesystem: ${SECRET_FLAG}\n",
        env);
    CHECK(stack.functions[0].image == "127.0.0.1:5000/a:latest");
    CHECK(stack.functions[0].readonly_root_filesystem);
    CHECK(error_of("functions:\n  a:\n    lang: go\n    handler: ./a\n    image: ${REGISTRY}\n    "
                   "bad: 1\n",
                   env) ==
          "dir/stack.yml:6: unknown key 'bad' in function a (known: lang, handler, image, "
          "fprocess, environment, "
          "environment_file, secrets, labels, annotations, constraints, limits, requests, "
          "readonly_root_filesystem, "
          "build_args, build_options, skip_build, namespace)");
}

TEST_CASE("a YAML syntax error names the line") {
    CHECK(error_of("functions:\n  a:\n    lang: [go\n").rfind("dir/stack.yml:", 0) == 0);
    const std::string message =
        error_of("provider:\n  name: openfaas\nfunctions:\n  a: {lang: go\n  b: x\n  c: [}\n");
    CHECK(message.rfind("dir/stack.yml:", 0) == 0);
    CHECK(error_of("a: b: c\n") == "dir/stack.yml:1: illegal map value");
    CHECK(error_of("functions:\n  a:\n    lang: go\n   image: x\n") ==
          "dir/stack.yml:4: end of map not found");
    CHECK(error_of("a: 1\nb: \"x\n\nc: 2") == "dir/stack.yml:4: illegal EOF in scalar");
}

TEST_CASE("wrong types are errors with the key's line") {
    const std::string head = "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n";
    CHECK(error_of(head + "    secrets: 3\n") ==
          "dir/stack.yml:6: a.secrets must be a list, not a single value");
    CHECK(error_of(head + "    environment: [A, B]\n") ==
          "dir/stack.yml:6: a.environment must be a map of NAME: value, not a list");
    CHECK(error_of(head + "    environment:\n      A: [1, 2]\n") ==
          "dir/stack.yml:7: a.environment.A must be a single value, not a list");
    CHECK(error_of(head + "    readonly_root_filesystem: maybe\n") ==
          "dir/stack.yml:6: a.readonly_root_filesystem must be true or false");
    CHECK(error_of(head + "    limits: 128m\n") ==
          "dir/stack.yml:6: a.limits must be a map with memory and cpu, not a single value");
    CHECK(error_of(head + "    limits:\n      memroy: 1m\n") ==
          "dir/stack.yml:7: unknown key 'memroy' in a.limits (did you mean 'memory'?)");
    CHECK(error_of(head + "    image: {a: b}\n").find("duplicate key 'image' (first on line 5)") !=
          std::string::npos);
    CHECK(error_of(head + "    secrets:\n      - {name: x}\n") ==
          "dir/stack.yml:7: each item of a.secrets must be a single value, not a map");
    CHECK(error_of("functions: [a, b]\n") ==
          "dir/stack.yml:1: functions must be a map of NAME: settings, not a list");
    CHECK(error_of("provider: openfaas\n") ==
          "dir/stack.yml:1: provider must be a map with name and gateway, not a single value");
    CHECK(error_of("provider:\n  name: kubernetes\n") ==
          "dir/stack.yml:2: provider.name must be openfaas (or faas), not 'kubernetes'");
    CHECK(error_of("configuration:\n  templates: x\n") ==
          "dir/stack.yml:2: configuration.templates must be a list of {name, source}");
    CHECK(error_of("configuration:\n  templates:\n    - name: a\n") ==
          "dir/stack.yml:3: each template needs a name and a source");
    CHECK(error_of("- a\n- b\n") ==
          "dir/stack.yml:1: a stack file is a map with provider and functions, not a list");
    CHECK(error_of("") == "dir/stack.yml:1: the stack file is empty (it needs functions:)");
}

TEST_CASE("a function that is not a map is an error") {
    CHECK(error_of("functions:\n  a:\n") ==
          "dir/stack.yml:2: function a must be a map of its settings (lang, handler, image...), "
          "not empty");
    CHECK(error_of("functions:\n\n  a: python3\n") ==
          "dir/stack.yml:3: function a must be a map of its settings (lang, handler, image...), "
          "not a single value");
}

TEST_CASE("unknown keys are errors, with a suggestion for a typo") {
    CHECK(error_of("functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n    "
                   "enviroment:\n      A: 1\n") ==
          "dir/stack.yml:6: unknown key 'enviroment' in function a (did you mean 'environment'?)");
    CHECK(error_of("version: 1.0\nfunction:\n  a: {}\n") ==
          "dir/stack.yml:2: unknown key 'function' in the stack file (did you mean 'functions'?)");
    CHECK(error_of("provider:\n  gateway: x\n  gatway: y\n") ==
          "dir/stack.yml:3: unknown key 'gatway' in provider (did you mean 'gateway'?)");
}

TEST_CASE("duplicate keys are errors naming both lines") {
    CHECK(error_of("functions:\n  a: {lang: go, handler: ./a, image: a}\n  a: {lang: go, handler: "
                   "./a, image: b}\n") == "dir/stack.yml:3: duplicate key 'a' (first on line 2)");
    CHECK(error_of("version: 1\n\nversion: 2\n") ==
          "dir/stack.yml:3: duplicate key 'version' (first on line 1)");
    CHECK(error_of("functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n    "
                   "environment:\n      X: 1\n"
                   "      X: 2\n") == "dir/stack.yml:8: duplicate key 'X' (first on line 7)");
}

TEST_CASE("required fields: image always, lang and handler unless skip_build") {
    CHECK(error_of("functions:\n  a:\n    lang: go\n    handler: ./a\n") ==
          "dir/stack.yml:2: function a has no image");
    CHECK(error_of("functions:\n  a:\n    handler: ./a\n    image: a\n") ==
          "dir/stack.yml:2: function a has no lang (the template to build it with; or skip_build: "
          "true)");
    CHECK(
        error_of("functions:\n  a:\n    lang: go\n    image: a\n") ==
        "dir/stack.yml:2: function a has no handler (the folder of its code; or skip_build: true)");
    CHECK(error_of("functions:\n  a:\n    skip_build: true\n") ==
          "dir/stack.yml:2: function a has no image");
    CHECK(error_of("functions:\n  a:\n    image: x\n    skip_build: true\n").empty());
}

TEST_CASE(
    "function names: lower-case letters, digits and '-', starting with a letter, at most 63") {
    CHECK(is_valid_function_name("hello"));
    CHECK(is_valid_function_name("a-1"));
    CHECK(is_valid_function_name(std::string(63, 'a')));
    CHECK_FALSE(is_valid_function_name(std::string(64, 'a')));
    CHECK_FALSE(is_valid_function_name(""));
    CHECK_FALSE(is_valid_function_name("Hello"));
    CHECK_FALSE(is_valid_function_name("1abc"));
    CHECK_FALSE(is_valid_function_name("-abc"));
    CHECK_FALSE(is_valid_function_name("a_b"));
    CHECK_FALSE(is_valid_function_name("a.b"));
    CHECK_FALSE(is_valid_function_name("../etc"));
    CHECK(error_of("functions:\n  a: {image: x, skip_build: true}\n  My_Fn:\n    image: x\n") ==
          "dir/stack.yml:3: function name 'My_Fn' is not valid: use lower-case letters, digits and "
          "'-', starting "
          "with a letter, at most 63 characters");
}

TEST_CASE("hostile input is bounded: size, nesting, alias expansion, odd keys") {
    const std::string big = "functions: {}\n# " + std::string(1024 * 1024, 'x') + "\n";
    CHECK(error_of(big).rfind("dir/stack.yml: larger than 1 MiB", 0) == 0);

    std::string deep = "x-deep: ";
    for (int i = 0; i < 100; ++i) deep += "[";
    for (int i = 0; i < 100; ++i) deep += "]";
    CHECK(error_of(deep) == "dir/stack.yml:1: nested deeper than 64 levels");
    std::string deeper = "x: ";
    for (int i = 0; i < 100000; ++i) deeper += "[";
    CHECK(error_of(deeper).rfind("dir/stack.yml:1: ", 0) == 0);

    // Ten levels of ten aliases each name 10^10 values.
    std::string laughs = "x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i <= 10; ++i) {
        const std::string prev = "*a" + std::to_string(i - 1);
        laughs += "x-a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
        for (int j = 1; j < 10; ++j) laughs += ", " + prev;
        laughs += "]\n";
    }
    CHECK(error_of(laughs).find("too many values (aliases expand to more than 100000)") !=
          std::string::npos);
    CHECK(error_of("x-self: &s [*s]\n") == "dir/stack.yml:1: nested deeper than 64 levels");
    CHECK(error_of("? [a, b]\n: c\n") == "dir/stack.yml:1: a key must be a plain name, not a list");
}

TEST_CASE("load_stack reads a file and names a missing one") {
    test::TempDir dir;
    const std::filesystem::path file = std::filesystem::path(dir.path()) / "stack.yml";
    write(file, "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n");
    const Stack stack = load_stack(file, MapEnv());
    CHECK(stack.functions.size() == 1);
    CHECK(stack.dir == dir.path());
    CHECK_THROWS_WITH_AS(load_stack(std::filesystem::path(dir.path()) / "nope.yml", MapEnv()),
                         doctest::Contains("nope.yml not found"), CliError);
    CHECK_THROWS_WITH_AS(load_stack(dir.path(), MapEnv()), doctest::Contains("is a folder"),
                         CliError);
    write(file, std::string(1024 * 1024 + 1, '#'));
    CHECK_THROWS_WITH_AS(load_stack(file, MapEnv()), doctest::Contains("larger than 1 MiB"),
                         StackError);
}

TEST_CASE("environment files are merged in order, environment over them") {
    test::TempDir dir;
    const std::filesystem::path root(dir.path());
    std::filesystem::create_directories(root / "env");
    write(root / "env" / "base.yml", "environment:\n  A: base\n  B: base\n  N: 3\n");
    write(root / "over.yml", "environment:\n  B: over\n  C: over\n");
    write(root / "stack.yml",
          "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n    environment_file:\n "
          "     - env/base.yml\n"
          "      - over.yml\n    environment:\n      C: mine\n      D: mine\n");
    const Stack stack = load_stack(root / "stack.yml", MapEnv());
    const auto merged = merged_environment(stack, stack.functions[0]);
    CHECK(merged == std::map<std::string, std::string>{
                        {"A", "base"}, {"B", "over"}, {"C", "mine"}, {"D", "mine"}, {"N", "3"}});

    FunctionSpec missing = stack.functions[0];
    missing.environment_file = {"absent.yml"};
    CHECK_THROWS_WITH_AS(merged_environment(stack, missing),
                         doctest::Contains("absent.yml not found"), StackError);

    write(root / "bad.yml", "environment:\n  A: 1\n  A: 2\n");
    FunctionSpec bad = stack.functions[0];
    bad.environment_file = {"bad.yml"};
    CHECK_THROWS_WITH_AS(merged_environment(stack, bad),
                         doctest::Contains("bad.yml:3: duplicate key 'A'"), StackError);
    write(root / "bad.yml", "enviroment:\n  A: 1\n");
    CHECK_THROWS_WITH_AS(merged_environment(stack, bad),
                         doctest::Contains("bad.yml:1: unknown key 'enviroment'"), StackError);
    write(root / "bad.yml", "environment: [A]\n");
    CHECK_THROWS_WITH_AS(merged_environment(stack, bad),
                         doctest::Contains("bad.yml:1: environment must be a map"), StackError);
}

TEST_CASE("render_stack writes a file that reads back the same") {
    FunctionSpec fn;
    fn.name = "hello";
    fn.lang = "python3-http";
    fn.handler = "./hello";
    fn.image = "127.0.0.1:5000/hello:latest";
    const std::string text = render_stack("http://127.0.0.1:8080", fn);
    CHECK(text ==
          "version: 1.0\nprovider:\n  name: openfaas\n  gateway: "
          "http://127.0.0.1:8080\nfunctions:\n  hello:\n"
          "    lang: python3-http\n    handler: ./hello\n    image: 127.0.0.1:5000/hello:latest\n");

    fn.environment = {{"A", "true"}, {"B", "x: y"},        {"C", "say \"hi\"\n"},
                      {"D", ""},     {"E", "$5 ${X} $$"},  {"F", "a:"},
                      {"G", "@x"},   {"H", "#no comment"}, {"I", " padded "}};
    fn.secrets = {"s1"};
    fn.labels = {{"l", "1"}};
    fn.limits = Resources{"128m", "0.5"};
    fn.readonly_root_filesystem = true;
    fn.build_options = {"dev"};
    fn.constraints = {"node.role == worker"};
    const Stack stack = parse(render_stack("http://gw:8080/", fn));
    REQUIRE(stack.functions.size() == 1);
    const FunctionSpec& back = stack.functions[0];
    CHECK(stack.gateway == "http://gw:8080/");
    CHECK(back.environment == fn.environment);
    CHECK(back.secrets == fn.secrets);
    CHECK(back.labels == fn.labels);
    CHECK(back.limits->memory == "128m");
    CHECK(back.readonly_root_filesystem);
    CHECK(back.build_options == fn.build_options);
    CHECK(back.constraints == fn.constraints);
}

TEST_CASE("append_function adds under functions: and keeps comments and order") {
    FunctionSpec fn;
    fn.name = "second";
    fn.lang = "go";
    fn.handler = "./second";
    fn.image = "second:latest";
    const std::string existing =
        "# my project\nversion: 1.0\nprovider:\n  name: openfaas  # the gateway\nfunctions:\n"
        "    first:   # the first one\n        lang: go\n        handler: ./first\n        image: "
        "first:latest\n"
        "        # trailing comment in first\n\n# configuration follows\nconfiguration:\n  "
        "templates: []\n";
    const std::string result = append_function(existing, "s.yml", fn);
    CHECK(result ==
          "# my project\nversion: 1.0\nprovider:\n  name: openfaas  # the gateway\nfunctions:\n"
          "    first:   # the first one\n        lang: go\n        handler: ./first\n        "
          "image: first:latest\n"
          "    second:\n        lang: go\n        handler: ./second\n        image: second:latest\n"
          "        # trailing comment in first\n\n# configuration follows\nconfiguration:\n  "
          "templates: []\n");
    const Stack stack = parse(result);
    REQUIRE(stack.functions.size() == 2);
    CHECK(stack.functions[0].name == "first");
    CHECK(stack.functions[1].name == "second");
    CHECK(stack.functions[1].image == "second:latest");
}

TEST_CASE("append_function at the end of a file, and into an empty map") {
    FunctionSpec fn;
    fn.name = "b";
    fn.lang = "go";
    fn.handler = "./b";
    fn.image = "b";
    CHECK(append_function("functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a", "s.yml",
                          fn) ==
          "functions:\n  a:\n    lang: go\n    handler: ./a\n    image: a\n  b:\n    lang: go\n    "
          "handler: ./b\n"
          "    image: b\n");
    CHECK(append_function("provider:\n  name: openfaas\nfunctions: {}\n", "s.yml", fn) ==
          "provider:\n  name: openfaas\nfunctions:\n  b:\n    lang: go\n    handler: ./b\n    "
          "image: b\n");
    CHECK(append_function("functions:\nprovider:\n  name: openfaas\n", "s.yml", fn) ==
          "functions:\n  b:\n    lang: go\n    handler: ./b\n    image: b\nprovider:\n  name: "
          "openfaas\n");
}

TEST_CASE("append_function refuses a taken name, a missing map and flow style") {
    FunctionSpec fn;
    fn.name = "a";
    fn.lang = "go";
    fn.handler = "./a";
    fn.image = "a";
    CHECK_THROWS_WITH_AS(append_function("version: 1\nfunctions:\n  a: {image: x}\n", "s.yml", fn),
                         "s.yml:3: function a already exists", StackError);
    CHECK_THROWS_WITH_AS(append_function("version: 1\n", "s.yml", fn),
                         "s.yml:1: no functions: map to add a to", StackError);
    CHECK_THROWS_WITH_AS(append_function("functions: {b: {image: x}}\n", "s.yml", fn),
                         "s.yml:1: functions: is written on one line; add a by hand", StackError);
    CHECK_THROWS_WITH_AS(append_function("functions: [\n", "s.yml", fn),
                         doctest::Contains("s.yml:"), StackError);
}
