// Test helpers for lib/session: addresses, and a driver that walks a session into each state
// through the public step() only (no field poking), so every state it builds is reachable.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "session/policy.hpp"
#include "session/state_machine.hpp"

namespace jg::test {

inline TransportAddr addr(const char *text) {
    const auto t = parse_transport(text);
    if (!t)
        ADD_FAILURE() << "bad test address " << text;
    return t.value_or(TransportAddr{});
}

inline const TransportAddr kHome = addr("198.51.100.7:51820");
inline const TransportAddr kCandidate = addr("203.0.113.9:40000");
inline const TransportAddr kOther = addr("203.0.113.10:40001");
inline constexpr PathChallenge kChallenge = {1, 2, 3, 4, 5, 6, 7, 8};
inline constexpr PathChallenge kWrongAnswer = {8, 7, 6, 5, 4, 3, 2, 1};

template <class T>
std::vector<const T *> payloads(const StepResult &r) {
    std::vector<const T *> out;
    for (const audit::Event &e : r.audit)
        if (const T *p = std::get_if<T>(&e.payload))
            out.push_back(p);
    return out;
}

template <class T>
std::vector<const T *> actions(const StepResult &r) {
    std::vector<const T *> out;
    for (const Action &a : r.actions)
        if (const T *p = std::get_if<T>(&a))
            out.push_back(p);
    return out;
}

inline std::vector<audit::SessionStateChange> changes(const StepResult &r) {
    std::vector<audit::SessionStateChange> out;
    for (const auto *c : payloads<audit::SessionStateChange>(r))
        out.push_back(*c);
    return out;
}

struct SessionDriver {
    Policy policy;
    SessionRecord s = make_session(0x5e55'10f1);
    int64_t now = 10'000;
    uint64_t next_nonce = 1;
    StepResult last;

    StepResult &feed(const SessionEvent &e) {
        last = step(s, e, policy, now);
        return last;
    }
    StepResult &feed_at(int64_t at, const SessionEvent &e) {
        now = at;
        return feed(e);
    }
    StepResult &after(int64_t ms, const SessionEvent &e) { return feed_at(now + ms, e); }

    ReattachRequest reattach(const TransportAddr &candidate = kCandidate) {
        ReattachRequest r;
        r.candidate = candidate;
        r.client_time_ms = now;
        r.nonce = next_nonce++;
        r.challenge = kChallenge;
        return r;
    }

    void to_attached(bool jumpgate = true) {
        feed(HandshakeCompleted{kHome, "peer", 1});
        if (jumpgate)
            feed(HelloReceived{});
        ASSERT_EQ(s.state, SessionState::Attached);
    }
    void to_volatile(bool jumpgate = true) {
        to_attached(jumpgate);
        feed(HealthSample{0.9, 20, 1, 0});
        ASSERT_EQ(s.state, SessionState::Volatile);
    }
    void to_recovering() {
        to_volatile();
        feed(reattach());
        ASSERT_EQ(s.state, SessionState::Recovering);
    }
    void to_degraded() {
        to_volatile();
        after(policy.volatility.volatile_to_degraded_ms, TimerTick{});
        ASSERT_EQ(s.state, SessionState::Degraded);
    }
    void to_terminated() {
        to_attached();
        feed(TerminationRequested{Reason::explicit_termination});
        ASSERT_EQ(s.state, SessionState::Terminated);
    }
    void to_state(SessionState st) {
        switch (st) {
            case SessionState::Birth:
                return;
            case SessionState::Attached:
                return to_attached();
            case SessionState::Volatile:
                return to_volatile();
            case SessionState::Recovering:
                return to_recovering();
            case SessionState::Degraded:
                return to_degraded();
            case SessionState::Terminated:
                return to_terminated();
        }
    }
    // Healthy heartbeats (each followed by a tick) every interval for `ms`, starting one
    // interval from now; stops early at the first state change so `last` holds it.
    void healthy_heartbeats_for(int64_t ms, uint64_t &seq) {
        const int64_t end = now + ms;
        const SessionState start = s.state;
        while (now + policy.volatility.heartbeat_interval_ms <= end) {
            after(policy.volatility.heartbeat_interval_ms, HeartbeatReceived{++seq, 20, 10, 0});
            if (s.state != start)
                return;
            after(0, TimerTick{});
            if (s.state != start)
                return;
        }
    }
};

}  // namespace jg::test
