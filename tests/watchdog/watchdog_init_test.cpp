// fwatchdog as PID 1 of its own PID namespace, as in a container without an init: orphans of
// timed-out functions are reaped, and SIGTERM still drains and exits 0.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "watchdog_fixture.h"

using faas::test::TestProcess;
using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

namespace {

std::vector<pid_t> children_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> children;
    pid_t child = 0;
    while (in >> child) children.push_back(child);
    return children;
}

std::string command_name(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

// Zombies anywhere in the namespace whose init is `init` (itself included).
int zombies_under(pid_t init) {
    int zombies = faas::test::zombie_children(init);
    for (pid_t pid : faas::test::descendants_of(init)) zombies += faas::test::zombie_children(pid);
    return zombies;
}

}  // namespace

TEST_CASE("as PID 1, fwatchdog reaps the orphans of timed-out functions and drains on SIGTERM") {
    if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
        MESSAGE("skipped: a PID namespace needs root and unshare(1)");
        return;
    }
    faas::test::TempDir tmp;
    int port = faas::test::free_port();
    int metrics_port = faas::test::free_port();
    // unshare forks; its child is PID 1 of the new namespace and execs fwatchdog.
    TestProcess unshare({"/usr/bin/unshare", "--fork", "--pid", "--kill-child", FAAS_WATCHDOG_PATH},
                        {{"fprocess", "sh -c 'sleep 60 & sleep 60'"},
                         {"exec_timeout", "300ms"},
                         {"port", std::to_string(port)},
                         {"metrics_port", std::to_string(metrics_port)},
                         {"TMPDIR", tmp.path()},
                         {"healthcheck_interval", "0"}});
    REQUIRE_MESSAGE(faas::test::wait_for_http(port, "/_/health", 200), unshare.output());
    auto children = children_of(unshare.pid());
    REQUIRE(children.size() == 1);
    const pid_t init = children.front();

    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10, 0);
    for (int call = 0; call < 3; ++call) {
        auto res = client.Post("/", "x", "text/plain");
        REQUIRE(res);
        CHECK(res->status == 408);
    }
    // Every sleep was killed with its group; wait until none is alive, then until none is a
    // zombie. Without a reaper as PID 1 the killed orphans stay zombies for good.
    auto sleeps_alive = [&] {
        for (pid_t pid : faas::test::descendants_of(init))
            if (command_name(pid) == "sleep") return true;
        return false;
    };
    CHECK(faas::test::wait_until([&] { return !sleeps_alive(); }, 5s));
    bool reaped = faas::test::wait_until([&] { return zombies_under(init) == 0; }, 3s);
    CHECK_MESSAGE(reaped, zombies_under(init) << " zombies in the namespace\n" << unshare.output());

    ::kill(init, SIGTERM);  // What `docker stop` does to a container's PID 1.
    CHECK(unshare.wait_exit(10s) == 0);
    CHECK(unshare.output().find("Shutdown complete") != std::string::npos);
}
