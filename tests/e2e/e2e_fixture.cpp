// End-to-end test helpers.
#include "e2e/e2e_fixture.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

namespace faas::e2e {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

}  // namespace

std::optional<Stack> stack_or_skip() {
    Stack stack;
    stack.gateway_host = env_or("FAAS_E2E_GATEWAY_HOST", stack.gateway_host);
    stack.gateway_port = std::stoi(env_or("FAAS_E2E_GATEWAY_PORT", "8080"));
    stack.user = env_or("FAAS_E2E_USER", "admin");
    stack.password = env_or("FAAS_E2E_PASSWORD", "");
    stack.prometheus_host = env_or("FAAS_E2E_PROMETHEUS_HOST", stack.prometheus_host);
    stack.prometheus_port = std::stoi(env_or("FAAS_E2E_PROMETHEUS_PORT", "9090"));
    stack.stack_name = env_or("FAAS_E2E_STACK", "func");
    const bool required = env_or("FAAS_E2E_REQUIRED", "") == "1" || !env_or("CI", "").empty();

    std::string why;
    if (std::system("docker info >/dev/null 2>&1") != 0) {
        why = "Docker is not available";
    } else if (stack.password.empty()) {
        why = "no deployed stack (FAAS_E2E_PASSWORD unset); run scripts/e2e.sh";
    } else {
        httplib::Client client(stack.gateway_host, stack.gateway_port);
        client.set_connection_timeout(2);
        auto res = client.Get("/healthz");
        if (!res || res->status != 200)
            why = "the gateway does not answer on " + stack.gateway_host + ":" +
                  std::to_string(stack.gateway_port);
    }
    if (why.empty()) return stack;
    if (required) FAIL("end-to-end tests required (CI / FAAS_E2E_REQUIRED=1) but " << why);
    std::cout << "E2E-SKIPPED: did not run: " << why << std::endl;
    return std::nullopt;
}

httplib::Client gateway(const Stack& stack, bool auth) {
    httplib::Client client(stack.gateway_host, stack.gateway_port);
    client.set_connection_timeout(5);
    client.set_read_timeout(30);
    if (auth) client.set_basic_auth(stack.user, stack.password);
    return client;
}

httplib::Client prometheus(const Stack& stack) {
    httplib::Client client(stack.prometheus_host, stack.prometheus_port);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    return client;
}

std::pair<int, std::string> invoke(const Stack& stack, const std::string& name,
                                   const std::string& body) {
    auto client = gateway(stack, false);
    auto res = client.Post("/function/" + name, body, "text/plain");
    if (!res) return {0, httplib::to_string(res.error())};
    return {res->status, res->body};
}

std::optional<nlohmann::json> function_status(const Stack& stack, const std::string& name) {
    auto client = gateway(stack);
    auto res = client.Get("/system/function/" + name);
    if (!res || res->status != 200) return std::nullopt;
    auto parsed = nlohmann::json::parse(res->body, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    return parsed;
}

bool scale(const Stack& stack, const std::string& name, int replicas) {
    auto client = gateway(stack);
    nlohmann::json body = {{"serviceName", name}, {"replicas", replicas}};
    auto res = client.Post("/system/scale-function/" + name, body.dump(), "application/json");
    return res && (res->status == 200 || res->status == 202);
}

bool available(const Stack& stack, const std::string& name, int replicas) {
    auto status = function_status(stack, name);
    return status && status->value("replicas", -1) == replicas &&
           status->value("availableReplicas", -1) == replicas;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
}

bool deploy_and_wait(const Stack& stack, const nlohmann::json& deployment, int replicas,
                     std::chrono::milliseconds timeout) {
    auto client = gateway(stack);
    auto res = client.Post("/system/functions", deployment.dump(), "application/json");
    if (!res || res->status != 202) {
        MESSAGE("deploy of " << deployment["service"] << " answered "
                             << (res ? std::to_string(res->status) + " " + res->body
                                     : httplib::to_string(res.error())));
        return false;
    }
    const std::string name = deployment["service"];
    return eventually(
        [&] {
            auto status = function_status(stack, name);
            return status && status->value("availableReplicas", 0) == replicas &&
                   invoke(stack, name, "ping").first == 200;
        },
        timeout);
}

void remove_function(const Stack& stack, const std::string& name) {
    auto client = gateway(stack);
    nlohmann::json body = {{"functionName", name}};
    client.Delete("/system/functions", body.dump(), "application/json");
    // Gone from Docker: its service and (so a secret it used can be removed) its containers.
    eventually(
        [&] {
            auto [code, out] = shell("docker ps -q --filter label=com.openfaas.function=" + name);
            return code == 0 && out.empty() && !function_status(stack, name);
        },
        std::chrono::seconds(60));
}

nlohmann::json prometheus_query(const Stack& stack, const std::string& expr) {
    auto client = prometheus(stack);
    std::string encoded;
    for (unsigned char c : expr) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            encoded.push_back(static_cast<char>(c));
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            encoded += hex;
        }
    }
    auto res = client.Get("/api/v1/query?query=" + encoded);
    if (!res || res->status != 200) return nlohmann::json::array();
    auto parsed = nlohmann::json::parse(res->body, nullptr, false);
    if (parsed.is_discarded() || parsed.value("status", "") != "success")
        return nlohmann::json::array();
    return parsed["data"]["result"];
}

void report(const std::string& line) {
    std::cout << "[e2e-report] " << line << std::endl;
    if (const char* path = std::getenv("FAAS_E2E_REPORT"); path && *path) {
        std::ofstream out(path, std::ios::app);
        out << line << "\n";
    }
}

std::pair<int, std::string> shell(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return {-1, out};
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    int status = ::pclose(pipe);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string seconds_text(double seconds, int decimals) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f s", decimals, seconds);
    return text;
}

std::string quote(const std::string& word) {
    std::string quoted = "'";
    for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

Cli::Cli(const Stack& stack, std::filesystem::path dir) : dir_(std::move(dir)) {
    env_ = "OPENFAAS_CONFIG=" + quote((dir_ / ".openfaas").string()) + " OPENFAAS_URL=http://" +
           stack.gateway_host + ":" + std::to_string(stack.gateway_port) + " ";
}

std::pair<int, std::string> Cli::operator()(const std::string& args,
                                            const std::string& input) const {
    std::string command = "cd " + quote(dir_.string()) + " && ";
    if (!input.empty()) command += "printf %s " + quote(input) + " | ";
    return shell(command + env_ + quote(FAAS_CLI_PATH) + " " + args + " 2>&1");
}

}  // namespace faas::e2e
