// The switch gate: cooldown, rate over a sliding 60 s window, and the improvement factor.
#include <gtest/gtest.h>

#include <algorithm>

#include "session/switch_gate.hpp"

namespace jg {
namespace {

Policy gate(uint32_t per_min, int64_t cooldown_ms) {
    Policy p;
    p.switching.max_switches_per_min = per_min;
    p.switching.switch_cooldown_ms = cooldown_ms;
    return p;
}

TEST(SwitchGate, FirstSwitchIsAllowed) {
    EXPECT_TRUE(check_switch_gate(SwitchHistory{}, Policy{}, 0).allowed);
}

TEST(SwitchGate, CooldownDeniesUntilItHasFullyElapsed) {
    const Policy p = gate(8, 1'500);
    SwitchHistory h;
    h.record(10'000);
    const GateVerdict v = check_switch_gate(h, p, 11'499);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.policy_key, "switching.switch_cooldown_ms");
    EXPECT_EQ(v.threshold, 1'500.0);
    EXPECT_EQ(v.observed, 1'499.0);
    EXPECT_TRUE(check_switch_gate(h, p, 11'500).allowed);
}

TEST(SwitchGate, RateDeniesTheSwitchBeyondTheLimitInAnySixtySeconds) {
    const Policy p = gate(3, 0);
    SwitchHistory h;
    for (int64_t t : {0, 10'000, 20'000}) {
        ASSERT_TRUE(check_switch_gate(h, p, t).allowed);
        h.record(t);
    }
    const GateVerdict v = check_switch_gate(h, p, 59'999);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.policy_key, "switching.max_switches_per_min");
    EXPECT_EQ(v.threshold, 3.0);
    EXPECT_EQ(v.observed, 4.0);
    EXPECT_TRUE(check_switch_gate(h, p, 60'000).allowed) << "the switch at 0 slid out";
}

TEST(SwitchGate, WindowSlidesOneSwitchAtATime) {
    const Policy p = gate(2, 0);
    SwitchHistory h;
    h.record(0);
    h.record(30'000);
    EXPECT_EQ(h.count_in_window(59'999), 2u);
    EXPECT_EQ(h.count_in_window(60'000), 1u);
    EXPECT_TRUE(check_switch_gate(h, p, 60'000).allowed);
    h.record(60'000);
    EXPECT_FALSE(check_switch_gate(h, p, 89'999).allowed);
    EXPECT_TRUE(check_switch_gate(h, p, 90'000).allowed);
}

TEST(SwitchGate, ZeroPerMinuteForbidsEverySwitch) {
    EXPECT_FALSE(check_switch_gate(SwitchHistory{}, gate(0, 0), 0).allowed);
}

TEST(SwitchGate, CooldownIsCheckedBeforeRate) {
    const Policy p = gate(1, 1'000);
    SwitchHistory h;
    h.record(0);
    EXPECT_EQ(check_switch_gate(h, p, 500).policy_key, "switching.switch_cooldown_ms");
    EXPECT_EQ(check_switch_gate(h, p, 1'500).policy_key, "switching.max_switches_per_min");
}

TEST(SwitchGate, LimitAboveCapacityIsClampedToCapacity) {
    const Policy p = gate(1'000, 0);
    SwitchHistory h;
    for (uint32_t i = 0; i < SwitchHistory::kCapacity; ++i)
        h.record(i);
    EXPECT_EQ(h.count_in_window(100), SwitchHistory::kCapacity);
    EXPECT_FALSE(check_switch_gate(h, p, 100).allowed);
    EXPECT_EQ(h.total(), SwitchHistory::kCapacity);
}

// The history grows as switches happen and wraps once full: the newest time and the count in
// the last minute stay right across the wrap.
TEST(SwitchGate, HistoryCountsTheLastMinuteAcrossItsWrap) {
    SwitchHistory h;
    EXPECT_EQ(h.last_ms(), 0);
    EXPECT_EQ(h.count_in_window(0), 0u);
    constexpr uint32_t kTotal = 2 * SwitchHistory::kCapacity + 5;
    for (uint32_t i = 0; i < kTotal; ++i) {
        h.record(int64_t(i) * 2'000);  // one every 2 s: 30 in any minute
        ASSERT_EQ(h.last_ms(), int64_t(i) * 2'000);
        ASSERT_EQ(h.count_in_window(int64_t(i) * 2'000), std::min(i + 1, 30u)) << i;
    }
    EXPECT_EQ(h.total(), kTotal);
    EXPECT_EQ(h.count_in_window(int64_t(kTotal - 1) * 2'000 + 59'999), 1u);
    EXPECT_EQ(h.count_in_window(int64_t(kTotal - 1) * 2'000 + 60'000), 0u);
}

// When a denied switch may be retried: the later of the cooldown's end and the moment the
// rate window holds fewer than the limit, so a retry is not denied (and audited) again.
TEST(SwitchGate, OpensWhenBothCooldownAndRateAllow) {
    const Policy p = gate(3, 1'500);
    SwitchHistory h;
    EXPECT_EQ(switch_gate_opens_ms(h, p, 5), 5) << "open already";
    for (int64_t t : {0, 10'000, 20'000})
        h.record(t);
    // Rate: the third newest (0) leaves the window at 60,000; the cooldown ended at 21,500.
    EXPECT_EQ(switch_gate_opens_ms(h, p, 30'000), 60'000);
    EXPECT_FALSE(check_switch_gate(h, p, 59'999).allowed);
    EXPECT_TRUE(check_switch_gate(h, p, 60'000).allowed);
    // Cooldown later than the rate: one switch, 1,500 ms after it.
    SwitchHistory one;
    one.record(100);
    EXPECT_EQ(switch_gate_opens_ms(one, p, 200), 1'600);
    // A limit of 0 never opens: the answer is a minute on, to look again.
    EXPECT_EQ(switch_gate_opens_ms(SwitchHistory{}, gate(0, 0), 7), 60'007);
}

TEST(SwitchGate, ImprovementMustReachTheFactor) {
    Policy p;
    p.switching.switch_improvement_factor = 1.25;  // exact in binary, so the edge is exact
    EXPECT_FALSE(improvement_justifies_switch(100.0, 124.9, p));
    EXPECT_TRUE(improvement_justifies_switch(100.0, 125.0, p));
    EXPECT_FALSE(improvement_justifies_switch(100.0, 90.0, p));
    p.switching.switch_improvement_factor = 1.0;
    EXPECT_TRUE(improvement_justifies_switch(100.0, 100.0, p));
}

}  // namespace
}  // namespace jg
