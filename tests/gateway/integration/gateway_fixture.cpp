// The gateway integration fixture.
#include "integration/gateway_fixture.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "support/wait.h"

namespace faas::test {

GatewayFixture::GatewayFixture(std::map<std::string, std::string> extra_env,
                               std::string state_dir) {
    if (state_dir.empty()) {
        own_state_ = std::make_unique<TempDir>();
        state_dir_ = own_state_->path() + "/state";
    } else {
        state_dir_ = std::move(state_dir);
    }
    port_ = free_port();
    std::map<std::string, std::string> env{{"port", std::to_string(port_)},
                                           {"state_dir", state_dir_},
                                           {"watchdog_path", FAAS_WATCHDOG_PATH},
                                           {"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    for (auto& [key, value] : extra_env) env[key] = value;
    process_ = std::make_unique<TestProcess>(std::vector<std::string>{FAAS_GATEWAY_PATH}, env);
    if (!wait_for_http(port_, "/healthz", 200, std::chrono::seconds(10)))
        FAIL("gateway did not start:\n" << process_->output());
}

httplib::Client GatewayFixture::client(std::chrono::milliseconds read_timeout) const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(read_timeout);
    client.set_connection_timeout(std::chrono::seconds(2));
    return client;
}

int GatewayFixture::deploy(const nlohmann::json& deployment) {
    auto http = client();
    httplib::Headers sent(headers.begin(), headers.end());
    auto res = http.Post("/system/functions", sent, deployment.dump(), "application/json");
    return res ? res->status : -1;
}

void GatewayFixture::deploy_ready(const std::string& name, const std::string& fprocess,
                                  int replicas, nlohmann::json extra) {
    nlohmann::json deployment = {
        {"service", name}, {"image", "local/" + name}, {"envProcess", fprocess}};
    deployment["labels"] = {{"com.openfaas.scale.min", std::to_string(replicas)}};
    for (auto& [key, value] : extra.items()) deployment[key] = value;
    REQUIRE(deploy(deployment) == 202);
    if (!wait_available(name, replicas)) FAIL("replicas not ready:\n" << process_->output());
}

nlohmann::json GatewayFixture::status(const std::string& name) {
    auto http = client();
    httplib::Headers sent(headers.begin(), headers.end());
    auto res = http.Get(("/system/function/" + name).c_str(), sent);
    if (!res || res->status != 200) return nullptr;
    return nlohmann::json::parse(res->body);
}

bool GatewayFixture::wait_available(const std::string& name, int count,
                                    std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            auto s = status(name);
            return !s.is_null() && s["availableReplicas"] == count && s["replicas"] == count;
        },
        timeout);
}

std::vector<pid_t> GatewayFixture::replica_pids() {
    std::vector<pid_t> out;
    for (pid_t pid : descendants_of(process_->pid())) {
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name == "fwatchdog") out.push_back(pid);
    }
    return out;
}

std::string GatewayFixture::metrics() {
    auto http = client();
    auto res = http.Get("/metrics");
    return res ? res->body : std::string();
}

std::optional<int> GatewayFixture::stop(std::chrono::milliseconds timeout) {
    process_->signal(SIGTERM);
    return process_->wait_exit(timeout);
}

std::string write_script(const TempDir& dir, const std::string& name, const std::string& body) {
    std::string path = dir.path() + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
}

}  // namespace faas::test
