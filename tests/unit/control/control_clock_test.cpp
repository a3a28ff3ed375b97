// ControlClock: follows a clock that never steps and slews towards the system clock, so a
// system clock step neither expires keypairs nor stalls timers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>

#include "control/control_clock.hpp"

namespace jg::control {
namespace {

constexpr int64_t kUsPerS = 1'000'000;

// Hand-driven steady and system clocks (µs).
struct Clocks {
    int64_t steady = 5 * kUsPerS;
    int64_t system = int64_t(1'800'000'000) * kUsPerS;  // 2027-01-15

    ControlClock make() {
        return ControlClock([this] { return steady; }, [this] { return system; });
    }
    void advance_s(int64_t s) {
        steady += s * kUsPerS;
        system += s * kUsPerS;
    }
};

TEST(ControlClock, StartsOnTheSystemClockAndFollowsTheSteadyOne) {
    Clocks c;
    ControlClock clock = c.make();
    EXPECT_EQ(clock.now_ms(), c.system / 1000);
    EXPECT_EQ(clock.system_offset_ms(), 0);
    c.advance_s(3);
    clock.slew();
    EXPECT_EQ(clock.now_ms(), c.system / 1000);
    EXPECT_EQ(clock.system_offset_ms(), 0);
}

// NTP steps the system clock back an hour: now_ms keeps moving forward, by at least 99 % of
// the elapsed time, and closes the gap by 1 % of it.
TEST(ControlClock, ABackwardStepOfTheSystemClockIsSlewedNotFollowed) {
    Clocks c;
    ControlClock clock = c.make();
    const int64_t before = clock.now_ms();
    c.system -= 3600 * kUsPerS;
    EXPECT_EQ(clock.now_ms(), before);
    EXPECT_EQ(clock.system_offset_ms(), -3'600'000);
    int64_t last = clock.now_ms();
    for (int i = 0; i < 1000; ++i) {  // ten seconds in 10 ms ticks
        c.steady += 10'000;
        c.system += 10'000;
        clock.slew();
        const int64_t now = clock.now_ms();
        EXPECT_GE(now - last, 9);  // 9.9 ms, floored
        last = now;
    }
    EXPECT_EQ(clock.now_ms(), before + 10'000 - 100);
    EXPECT_EQ(clock.system_offset_ms(), -3'600'000 + 100);
}

// A forward step (first NTP sync after boot) is caught up at 1 % too, not at once: keypairs
// created a moment ago do not look 180 s old.
TEST(ControlClock, AForwardStepIsCaughtUpAtOnePercent) {
    Clocks c;
    ControlClock clock = c.make();
    const int64_t before = clock.now_ms();
    c.system += 600 * kUsPerS;
    c.advance_s(1);
    clock.slew();
    EXPECT_EQ(clock.now_ms(), before + 1'000 + 10);
    EXPECT_EQ(clock.system_offset_ms(), 600'000 - 10);
}

// A small step is absorbed exactly, and the clock then runs with the system clock again.
TEST(ControlClock, ASmallStepIsAbsorbedThenTheClocksAgree) {
    Clocks c;
    ControlClock clock = c.make();
    c.system += 50'000;  // 50 ms
    for (int i = 0; i < 600; ++i) {
        c.advance_s(1);
        clock.slew();
    }
    EXPECT_EQ(clock.system_offset_ms(), 0);
    EXPECT_EQ(clock.now_ms(), c.system / 1000);
}

TEST(ControlClock, SlewCalledAgainAtOnceMovesNothing) {
    Clocks c;
    ControlClock clock = c.make();
    c.system += kUsPerS;
    clock.slew();
    clock.slew();
    EXPECT_EQ(clock.system_offset_ms(), 1'000);
}

TEST(ControlClock, TheProcessClockReadsNearTheSystemClock) {
    const int64_t system_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    EXPECT_LE(std::abs(control_clock().now_ms() - system_ms), 1'000);
}

}  // namespace
}  // namespace jg::control
