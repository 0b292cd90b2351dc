// The gateway's memory stays under max_buffered_bytes plus its own needs when many calls answer
// with large bodies at once: past the budget a call is 503, never an unbounded RSS.
#include <doctest/doctest.h>

#include <future>
#include <vector>

#include "integration/gateway_fixture.h"
#include "support/process.h"

using namespace faas::test;
using namespace std::chrono_literals;

TEST_CASE("eight concurrent 64 MiB answers keep the gateway under its buffer budget") {
    constexpr long kBudgetMiB = 160;
    GatewayFixture gateway({{"max_buffered_bytes", std::to_string(kBudgetMiB) + "Mi"}});
    // 64 MiB of output from one replica per call; the replica's own limit is raised for it.
    gateway.deploy_ready(
        "big", "head -c 67108864 /dev/zero", 1,
        {{"envVars",
          {{"max_response_bytes", "80Mi"}, {"max_inflight", "0"}, {"exec_timeout", "60s"}}}});
    const pid_t pid = gateway.process().pid();
    const long idle_kib = proc_status_kib(pid, "VmRSS");
    REQUIRE(idle_kib > 0);

    std::vector<std::future<int>> calls;
    for (int i = 0; i < 8; ++i)
        calls.push_back(std::async(std::launch::async, [&gateway] {
            auto res = gateway.client(60s).Get("/function/big");
            if (!res) return -1;
            if (res->status == 200 && res->body.size() != 67108864u) return -2;
            return res->status;
        }));
    int ok = 0, busy = 0;
    for (auto& call : calls) {
        const int status = call.get();
        CAPTURE(status);
        CHECK((status == 200 || status == 503));
        ok += status == 200;
        busy += status == 503;
    }
    const long peak_kib = proc_status_kib(pid, "VmHWM");
    MESSAGE("idle RSS " << idle_kib / 1024 << " MiB, peak " << peak_kib / 1024 << " MiB, " << ok
                        << " answered, " << busy << " refused 503");
    CHECK(ok >= 2);  // two 64 MiB answers fit in 160 MiB at once
    // The budget, plus what the gateway needs without it (and allocator slack). ASan keeps
    // freed blocks in its quarantine (256 MiB by default), so its peak says less.
    const long slack_mib = faas::test::kAddressSanitizer ? 256 : 64;
    CHECK(peak_kib < idle_kib + (kBudgetMiB + slack_mib) * 1024);
}
