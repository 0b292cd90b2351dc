// The local provider with real fwatchdog replicas: where replicas listen, when they count as
// available, and what a status reports.
#include "provider/local/local_provider.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "provider/local/health_probe.h"
#include "provider/local/replica_process.h"
#include "support/process.h"
#include "support/wait.h"

using namespace faas::gateway;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

LocalProviderOptions options_in(const std::string& state_dir) {
    LocalProviderOptions options;
    options.state_dir = state_dir;
    options.watchdog_path = FAAS_WATCHDOG_PATH;
    options.base_env = {{"PATH", "/usr/bin:/bin"}};
    options.stop_grace = 2s;
    return options;
}

FunctionDeployment echo_deployment() {
    return parse_deployment(R"({"service":"echo","image":"local/echo","envProcess":"cat"})",
                            "openfaas-fn");
}

std::vector<pid_t> watchdog_children() {
    std::vector<pid_t> out;
    for (pid_t pid : faas::test::descendants_of(::getpid())) {
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name == "fwatchdog") out.push_back(pid);
    }
    return out;
}

struct Listener {
    std::string address;  ///< As /proc/net/tcp{,6} writes it (hex, network order per word).
    int port = 0;
    bool ipv6 = false;
};

// The listening TCP sockets a process holds: its socket inodes matched against the kernel's
// tables, so nothing depends on what the process says about itself.
std::vector<Listener> listeners_of(pid_t pid) {
    std::set<std::string> inodes;
    std::error_code ec;
    for (const auto& fd :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        auto target = std::filesystem::read_symlink(fd.path(), ec).string();
        if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
    }
    std::vector<Listener> out;
    for (auto [table, ipv6] : {std::pair{"/proc/net/tcp", false}, {"/proc/net/tcp6", true}}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
                timeout >> inode;
            if (state != "0A" || !inodes.count(inode)) continue;  // 0A: LISTEN
            auto colon = local.find(':');
            out.push_back(Listener{local.substr(0, colon),
                                   std::stoi(local.substr(colon + 1), nullptr, 16), ipv6});
        }
    }
    return out;
}

// Connects to host:port; true when the connection is accepted.
bool connects(const char* host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host, &address.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

// The moment a replica's /_/health first answers 200, watched from outside; then how long
// the provider takes to count it.
std::chrono::steady_clock::duration availability_lag(LocalProvider& provider,
                                                     const std::string& name, pid_t pid) {
    std::optional<std::chrono::steady_clock::time_point> healthy_at;
    REQUIRE(faas::test::wait_until([&] {
        for (const auto& listener : listeners_of(pid))
            if (probe_health(listener.port) == Health::kHealthy) {
                healthy_at = std::chrono::steady_clock::now();
                return true;
            }
        return false;
    }));
    REQUIRE(faas::test::wait_until([&] { return provider.get(name)->available_replicas == 1; }));
    return std::chrono::steady_clock::now() - *healthy_at;
}

// A loopback port held bound but not listening (connections to it are refused) until
// listen(): an http-mode replica's upstream that comes up when the test says.
class HeldPort {
  public:
    HeldPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_ >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port_ = ntohs(address.sin_port);
    }
    ~HeldPort() { ::close(fd_); }
    HeldPort(const HeldPort&) = delete;
    HeldPort& operator=(const HeldPort&) = delete;

    int port() const { return port_; }
    void listen() { REQUIRE(::listen(fd_, 16) == 0); }

  private:
    int fd_;
    int port_ = 0;
};

}  // namespace

TEST_CASE("a local replica listens on 127.0.0.1 only, function and metrics port alike") {
    faas::test::TempDir state;
    LocalProvider provider(options_in(state.path()));
    provider.deploy(echo_deployment());
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("echo").ready.size() == 1; }));
    auto pids = watchdog_children();
    REQUIRE(pids.size() == 1);
    auto listeners = listeners_of(pids[0]);
    REQUIRE(listeners.size() == 2);  // the function port and the metrics port
    for (const auto& listener : listeners) {
        CAPTURE(listener.address);
        CAPTURE(listener.port);
        CHECK_FALSE(listener.ipv6);
        CHECK(listener.address == "0100007F");  // 127.0.0.1, little-endian
        CHECK(connects("127.0.0.1", listener.port));
        // Loopback routes all of 127/8: a socket bound to every interface would accept this.
        CHECK_FALSE(connects("127.0.0.2", listener.port));
    }
}

TEST_CASE("a replica counts as available as soon as it first answers healthy") {
    faas::test::TempDir state;
    LocalProvider provider(options_in(state.path()));
    provider.deploy(echo_deployment());
    std::vector<pid_t> pids;
    REQUIRE(faas::test::wait_until([&] { return (pids = watchdog_children()).size() == 1; }));
    CHECK(availability_lag(provider, "echo", pids[0]) < 500ms);
}

TEST_CASE("a hung replica does not hold up another's health checks") {
    faas::test::TempDir state;
    LocalProvider provider(options_in(state.path()));
    provider.deploy(
        parse_deployment(R"({"service":"hung","image":"i","envProcess":"cat"})", "openfaas-fn"));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("hung").ready.size() == 1; }));
    auto hung = watchdog_children();
    REQUIRE(hung.size() == 1);
    ::kill(hung[0], SIGSTOP);  // its probes now take their full 2 s read deadline
    // Out of rotation after three unanswered probes; from then on it is probed at every pass,
    // so a pass that waited for its probes would wait 2 s each time.
    REQUIRE(
        faas::test::wait_until([&] { return provider.get("hung")->available_replicas == 0; }, 20s));
    provider.deploy(echo_deployment());
    std::vector<pid_t> pids;
    REQUIRE(faas::test::wait_until([&] { return (pids = watchdog_children()).size() == 2; }));
    auto echo = pids[0] == hung[0] ? pids[1] : pids[0];
    auto lag = availability_lag(provider, "echo", echo);
    ::kill(hung[0], SIGCONT);
    CHECK(lag < 500ms);
}

TEST_CASE("a replica listening but not yet healthy resolves as starting until it passes") {
    faas::test::TempDir state;
    LocalProvider provider(options_in(state.path()));
    // In http mode the watchdog is healthy only once its upstream accepts connections.
    HeldPort upstream;
    provider.deploy(parse_deployment(
        R"({"service":"slow","image":"i","envProcess":"sleep 600","envVars":{"mode":"http",)"
        R"("upstream_url":"http://127.0.0.1:)" +
            std::to_string(upstream.port()) + R"("}})",
        "openfaas-fn"));
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("slow").starting.size() == 1; }));
    auto resolution = provider.resolve("slow");
    CHECK(resolution.exists);
    CHECK(resolution.ready.empty());
    const auto starting = resolution.starting[0];
    CHECK(starting.host == "127.0.0.1");
    // Reachable, and says it is not ready: what a held call's own probe would find.
    CHECK(probe_health(starting.port) == Health::kUnhealthy);
    CHECK(provider.get("slow")->available_replicas == 0);

    upstream.listen();
    REQUIRE(faas::test::wait_until([&] { return provider.resolve("slow").ready.size() == 1; }));
    resolution = provider.resolve("slow");
    CHECK(resolution.ready[0].port == starting.port);
    CHECK(resolution.starting.empty());
}

TEST_CASE("a status reports faas_function among the labels, the stored deployment stays as sent") {
    faas::test::TempDir state;
    LocalProvider provider(options_in(state.path()));
    provider.deploy(parse_deployment(
        R"({"service":"echo","image":"i","envProcess":"cat","labels":{"com.openfaas.scale.min":"0"}})",
        "openfaas-fn"));
    provider.deploy(
        parse_deployment(R"({"service":"bare","image":"i","envProcess":"cat"})", "openfaas-fn"));
    auto record = provider.get("echo");
    REQUIRE(record);
    CHECK(record->deployment.raw["labels"] ==
          json({{"com.openfaas.scale.min", "0"}, {"faas_function", "echo"}}));
    auto all = provider.list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].deployment.raw["labels"] == json({{"faas_function", "bare"}}));
    CHECK(all[1].deployment.labels.at("faas_function") == "echo");
    std::ifstream stored(state.path() + "/functions/echo.json");
    auto file = json::parse(stored);
    CHECK(file["deployment"]["labels"] == json({{"com.openfaas.scale.min", "0"}}));
    std::ifstream stored_bare(state.path() + "/functions/bare.json");
    CHECK_FALSE(json::parse(stored_bare)["deployment"].contains("labels"));
}

TEST_CASE("the watchdog's port announcement is parsed only from its own line") {
    using faas::gateway::announced_port;
    CHECK(announced_port("2026/11/21 10:30:51 Listening on port: 34567") == 34567);
    CHECK(announced_port("Listening on port: 80") == 80);
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 stderr: Listening on port: 1"));
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 Listening on port: 99999"));
    CHECK_FALSE(announced_port("2026/11/21 10:30:51 Metrics listening on port: 8081"));
}
