// The client's time lines: the session state machine runs on a clock the system clock cannot
// step, while audit timestamps follow the system clock without ever stepping.
#include "client/client_clock.hpp"

#include <gtest/gtest.h>

#include <variant>

namespace jg::client {
namespace {

constexpr int64_t kMsNs = 1'000'000;

struct FakeClocks {
    int64_t steady_ns = 7'000 * kMsNs;  // a few seconds after boot
    int64_t system_ns = 1'800'000'000'000 * kMsNs;
    void advance_ms(int64_t ms) {
        steady_ns += ms * kMsNs;
        system_ns += ms * kMsNs;
    }
    ClientClock clock() {
        return ClientClock([this] { return steady_ns; }, [this] { return system_ns; });
    }
};

TransportAddr addr(const char *text) {
    return parse_transport(text).value_or(TransportAddr{});
}

bool terminated_or_volatile(const StepResult &r) {
    for (const audit::Event &e : r.audit) {
        if (std::holds_alternative<audit::SessionTerminated>(e.payload))
            return true;
        if (const auto *sc = std::get_if<audit::SessionStateChange>(&e.payload))
            if (sc->new_state != SessionState::Attached)
                return true;
    }
    return false;
}

TEST(ClientClock, SystemClockStepsMoveWallTimeOnly) {
    FakeClocks t;
    const ClientClock clock = t.clock();
    const int64_t timer = clock.timer_ms();
    const int64_t wall = clock.wall_ms();
    t.system_ns += 3'600'000 * kMsNs;
    EXPECT_EQ(clock.timer_ms(), timer);
    EXPECT_EQ(clock.wall_ms(), wall + 3'600'000);
    t.system_ns -= 7'200'000 * kMsNs;
    EXPECT_EQ(clock.timer_ms(), timer);
    t.advance_ms(250);
    EXPECT_EQ(clock.timer_ms(), timer + 250);
    EXPECT_EQ(clock.timer_ns(), uint64_t(t.steady_ns));
}

// A heartbeating session across a forward step far beyond transport_lost_ttl_ms and a backward
// step of twice that: it stays ATTACHED, and its audit time never goes back.
TEST(ClientClock, SessionTimersIgnoreSystemClockSteps) {
    FakeClocks t;
    const ClientClock clock = t.clock();
    Policy policy;
    SessionRecord s = make_session(0x42);
    const TransportAddr home = addr("192.0.2.2:40000");
    StepResult r = step_at(clock, s, HandshakeCompleted{home, "peer", 0}, policy);
    ASSERT_FALSE(r.audit.empty());
    EXPECT_EQ(r.audit.begin()->ts_ms, clock.wall_ms());
    step_at(clock, s, HelloReceived{}, policy);
    ASSERT_EQ(s.state, SessionState::Attached);

    const int64_t jump_ms = 4 * policy.session.transport_lost_ttl_ms;
    uint64_t seq = 1;
    for (int64_t ms = 0; ms < 20'000; ms += 10) {
        if (ms == 5'000)
            t.system_ns += jump_ms * kMsNs;
        if (ms == 12'000)
            t.system_ns -= 2 * jump_ms * kMsNs;
        t.advance_ms(10);
        if (ms % policy.volatility.heartbeat_interval_ms == 0) {
            r = step_at(clock, s, HeartbeatReceived{seq++, 20.0, 1, 0}, policy);
            ASSERT_FALSE(terminated_or_volatile(r)) << "heartbeat at " << ms << " ms";
        }
        r = step_at(clock, s, TimerTick{}, policy);
        ASSERT_FALSE(terminated_or_volatile(r)) << "tick at " << ms << " ms";
    }
    EXPECT_EQ(s.state, SessionState::Attached);

    // Now silence: the session goes VOLATILE after heartbeat_volatile_ms of timer time; the
    // audit line has not caught up with the (stepped) system clock, nor gone back.
    const int64_t silent_from = clock.timer_ms();
    const int64_t audit_before = clock.audit_ms();
    bool went_volatile = false;
    while (!went_volatile && clock.timer_ms() - silent_from < 60'000) {
        t.advance_ms(10);
        r = step_at(clock, s, TimerTick{}, policy);
        for (const audit::Event &e : r.audit)
            if (const auto *sc = std::get_if<audit::SessionStateChange>(&e.payload)) {
                went_volatile = sc->new_state == SessionState::Volatile;
                EXPECT_GE(e.ts_ms, audit_before);
                EXPECT_GT(e.ts_ms, clock.wall_ms());
            }
    }
    ASSERT_TRUE(went_volatile);
    EXPECT_LE(clock.timer_ms() - silent_from,
              policy.volatility.heartbeat_volatile_ms + policy.volatility.heartbeat_interval_ms);

    // A recovery deadline in the log is absolute wall time, like ts_ms.
    ReattachRequest req;
    req.client_time_ms = clock.timer_ms();
    req.nonce = 9;
    req.candidate = addr("192.0.2.3:40001");
    r = step_at(clock, s, req, policy);
    bool saw_attempt = false;
    for (const audit::Event &e : r.audit)
        if (const auto *a = std::get_if<audit::ReattachAttempt>(&e.payload)) {
            saw_attempt = true;
            EXPECT_EQ(a->recovery_deadline_ms - e.ts_ms, policy.switching.recovery_window_ms);
        }
    EXPECT_TRUE(saw_attempt);
}

// Audit time starts on the system clock, and after a step moves with timer time corrected by
// at most 1 %: a backward step of an hour shrinks no gap between two audit events by more
// than that (audit-check would see a valid log's switches break their cooldown), and the line
// reaches the system clock again after 100 times the step.
TEST(ClientClock, AuditTimeSlewsTowardsTheSystemClockAndNeverSteps) {
    FakeClocks t;
    const ClientClock clock = t.clock();
    EXPECT_EQ(clock.audit_ms(), clock.wall_ms());
    t.advance_ms(1'000);
    EXPECT_EQ(clock.audit_ms(), clock.wall_ms());

    const int64_t step_ms = 3'600'000;
    t.system_ns -= step_ms * kMsNs;
    int64_t last = clock.audit_ms();
    EXPECT_EQ(last, clock.wall_ms() + step_ms);
    for (int i = 0; i < 100; ++i) {
        t.advance_ms(1'500);
        const int64_t now = clock.audit_ms();
        EXPECT_GE(now - last, 1'500 - 15);
        EXPECT_LE(now - last, 1'500);
        last = now;
    }
    EXPECT_EQ(clock.wall_ms() + step_ms - 1'500, last);

    // Forward steps are caught up the same way, never by a jump.
    t.system_ns += 2 * step_ms * kMsNs;
    t.advance_ms(1'000);
    EXPECT_EQ(clock.audit_ms() - last, 1'010);
    t.advance_ms(200 * step_ms);
    EXPECT_EQ(clock.audit_ms(), clock.wall_ms());
    t.advance_ms(5);
    EXPECT_EQ(clock.audit_ms(), clock.wall_ms());
}

}  // namespace
}  // namespace jg::client
