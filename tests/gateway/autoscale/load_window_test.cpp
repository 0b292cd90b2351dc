// Load samples and their averages over a window, on a fake clock.
#include "autoscale/load_window.h"

#include <doctest/doctest.h>

using namespace faas::gateway;
using namespace std::chrono_literals;
using Metric = LoadWindow::Metric;

namespace {

const LoadWindow::Clock::time_point kStart = LoadWindow::Clock::time_point{} + 1h;

LoadWindow::Clock::time_point at(double seconds) {
    return kStart + std::chrono::duration_cast<LoadWindow::Clock::duration>(
                        std::chrono::duration<double>(seconds));
}

}  // namespace

TEST_CASE("an empty window has no averages and no history") {
    LoadWindow load;
    CHECK_FALSE(load.average(Metric::kInFlight, 60s, at(0)).has_value());
    CHECK_FALSE(load.average(Metric::kRps, 60s, at(0)).has_value());
    CHECK(load.history(at(0)) == 0s);
}

TEST_CASE("in flight is the mean of the samples in the window") {
    LoadWindow load;
    for (int s = 0; s <= 10; ++s) load.record(at(s), s < 5 ? 2.0 : 8.0, 0);
    CHECK(*load.average(Metric::kInFlight, 60s, at(10)) == doctest::Approx(58.0 / 11));
    // Samples at 4..10: one at 2, six at 8.
    CHECK(*load.average(Metric::kInFlight, 6s, at(10)) == doctest::Approx(50.0 / 7));
    CHECK(*load.average(Metric::kInFlight, 6s, at(10.5)) == doctest::Approx(8.0));
    // One sample is enough.
    LoadWindow one;
    one.record(at(0), 3, 0);
    CHECK(*one.average(Metric::kInFlight, 6s, at(0)) == doctest::Approx(3.0));
    CHECK_FALSE(one.average(Metric::kInFlight, 6s, at(7)).has_value());
}

TEST_CASE("rps is completed calls over the time the window's samples span") {
    LoadWindow load;
    load.record(at(0), 0, 100);
    CHECK_FALSE(load.average(Metric::kRps, 60s, at(0)).has_value());
    for (int s = 1; s <= 20; ++s) load.record(at(s), 0, 100 + 5 * static_cast<unsigned>(s));
    CHECK(*load.average(Metric::kRps, 60s, at(20)) == doctest::Approx(5.0));
    load.record(at(21), 0, 200 + 20);  // 20 calls in the last second
    // The 6 s rate runs from the sample at 15 s, the window's start, to 21 s: (220 - 175) / 6.
    CHECK(*load.average(Metric::kRps, 6s, at(21)) == doctest::Approx(45.0 / 6));
    // Between samples the rate starts from the newest sample before the window: 14 s.
    CHECK(*load.average(Metric::kRps, 6s, at(20.5)) == doctest::Approx((200.0 - 170) / 6));
}

TEST_CASE("samples older than the longest window go, but one at its start is kept") {
    LoadWindow load;
    for (int s = 0; s <= 200; ++s) load.record(at(s), s, 10 * static_cast<unsigned>(s));
    CHECK(load.history(at(200)) == 60s);
    CHECK(load.history(at(200.5)) == 60500ms);
    // Samples 140..200.
    CHECK(*load.average(Metric::kInFlight, 60s, at(200)) == doctest::Approx(170.0));
    CHECK(*load.average(Metric::kRps, 60s, at(200)) == doctest::Approx(10.0));
    CHECK(*load.average(Metric::kInFlight, 600s, at(200)) == doctest::Approx(170.0));
}

TEST_CASE("history grows until a full window is kept") {
    LoadWindow load;
    load.record(at(0), 1, 0);
    CHECK(load.history(at(0)) == 0s);
    for (int s = 1; s <= 30; ++s) load.record(at(s), 1, 0);
    CHECK(load.history(at(30)) == 30s);
    // Uneven sampling still keeps a full window once there is one.
    double last = 0;
    for (double s = 31.3; s < 119; s += 1.3) {
        load.record(at(s), 1, 0);
        last = s;
    }
    CHECK(load.history(at(last)) >= 60s);
    CHECK(load.history(at(last)) <= 61300ms);
}

TEST_CASE("out-of-order samples are ignored and a counter restart starts afresh") {
    LoadWindow load;
    load.record(at(0), 1, 0);
    load.record(at(10), 1, 100);
    load.record(at(5), 50, 5000);
    CHECK(*load.average(Metric::kInFlight, 60s, at(10)) == doctest::Approx(1.0));
    CHECK(*load.average(Metric::kRps, 60s, at(10)) == doctest::Approx(10.0));
    load.record(at(11), 2, 3);
    CHECK(load.history(at(11)) == 0s);
    CHECK(*load.average(Metric::kInFlight, 60s, at(11)) == doctest::Approx(2.0));
    CHECK_FALSE(load.average(Metric::kRps, 60s, at(11)).has_value());
    load.record(at(12), 2, 13);
    CHECK(*load.average(Metric::kRps, 60s, at(12)) == doctest::Approx(10.0));
}
