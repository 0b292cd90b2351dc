// secret create|update|list|remove. A value is sent byte for byte: as `value` when it is text
// (valid UTF-8, which JSON can carry), else as base64 `rawValue`.
#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>

#include "base64.h"
#include "cli_error.h"
#include "commands.h"
#include "gateway_access.h"
#include "output.h"

namespace faas::cli {
namespace {

using nlohmann::json;

std::string the_secret_name(const ParsedArgs& args, std::string_view command) {
    if (args.positionals().size() != 1)
        throw UsageError("secret " + std::string(command) + " takes one secret name");
    return args.positionals().front();
}

/// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool is_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        size_t extra = 0;
        unsigned int code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            code = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            code = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            code = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= extra; ++k) {
            if (i + k >= text.size()) return false;
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            code = (code << 6) | (next & 0x3F);
        }
        if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
            (extra == 3 && (code < 0x10000 || code > 0x10FFFF)))
            return false;
        i += extra + 1;
    }
    return true;
}

/// The value from --from-literal, --from-file or standard input, exactly as given.
std::string secret_value(Context& ctx, const ParsedArgs& args) {
    const auto literal = args.value("from-literal");
    const auto file = args.value("from-file");
    if (literal && file) throw UsageError("give --from-literal or --from-file, not both");
    std::string value;
    if (literal) {
        value = *literal;
    } else if (file) {
        std::ifstream in(*file, std::ios::binary);
        if (!in) throw CliError("cannot read " + *file);
        std::ostringstream bytes;
        bytes << in.rdbuf();
        if (in.bad()) throw CliError("cannot read " + *file);
        value = bytes.str();
    } else {
        std::ostringstream bytes;
        bytes << ctx.in.rdbuf();
        value = bytes.str();
    }
    if (value.empty())
        throw UsageError(
            "the secret's value is empty: give --from-literal, --from-file or standard input");
    return value;
}

json secret_body(const std::string& name, const std::string& value, const ParsedArgs& args) {
    json body = {{"name", name}};
    if (is_utf8(value))
        body["value"] = value;
    else
        body["rawValue"] = base64_encode(value);
    if (auto ns = args.value("namespace"); ns && !ns->empty()) body["namespace"] = *ns;
    return body;
}

const HeaderList kJson = {{"Content-Type", "application/json"}};

}  // namespace

int run_secret_create(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_secret_name(args, "create");
    const std::string value = secret_value(ctx, args);
    const auto client = client_for(ctx, args);
    const auto response =
        client.request("POST", "/system/secrets", secret_body(name, value, args).dump(), kJson);
    if (response.status == 409)
        throw CliError("secret " + name + " already exists (faas secret update " + name + ")");
    expect_success(response, "cannot create secret " + name, client);
    ctx.out << "Created secret " << name << ".\n";
    return 0;
}

int run_secret_update(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_secret_name(args, "update");
    const std::string value = secret_value(ctx, args);
    const auto client = client_for(ctx, args);
    const auto response =
        client.request("PUT", "/system/secrets", secret_body(name, value, args).dump(), kJson);
    if (response.status == 404)
        throw CliError("secret " + name + " not found (faas secret create " + name + ")");
    expect_success(response, "cannot update secret " + name, client);
    ctx.out << "Updated secret " << name << ".\n";
    return 0;
}

int run_secret_list(Context& ctx, const ParsedArgs& args) {
    if (!args.positionals().empty()) throw UsageError("secret list takes no arguments");
    const auto client = client_for(ctx, args);
    const auto response = client.request(
        "GET", "/system/secrets" + namespace_query(args.value("namespace").value_or("")));
    expect_success(response, "cannot list secrets", client);
    json secrets = json::parse(response.body, nullptr, false);
    if (!secrets.is_array()) throw CliError("the gateway's secret list is not a JSON array");
    if (args.flag("json")) {
        print_json(ctx.out, secrets);
        return 0;
    }
    std::vector<std::string> names;
    for (const auto& secret : secrets)
        if (secret.is_object() && secret.contains("name") && secret["name"].is_string())
            names.push_back(secret["name"].get<std::string>());
    std::sort(names.begin(), names.end());
    Table table({"Secret"});
    for (auto& name : names) table.add_row({std::move(name)});
    table.print(ctx.out);
    return 0;
}

int run_secret_remove(Context& ctx, const ParsedArgs& args) {
    const std::string name = the_secret_name(args, "remove");
    json body = {{"name", name}};
    if (auto ns = args.value("namespace"); ns && !ns->empty()) body["namespace"] = *ns;
    const auto client = client_for(ctx, args);
    const auto response = client.request("DELETE", "/system/secrets", body.dump(), kJson);
    if (response.status == 404) throw CliError("secret " + name + " not found");
    expect_success(response, "cannot remove secret " + name, client);
    ctx.out << "Removed secret " << name << ".\n";
    return 0;
}

}  // namespace faas::cli
