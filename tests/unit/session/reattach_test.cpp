// Reattach validation: the contract's order (the first failing check decides), the replay set,
// freshness, and what each denial may and may not change.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "session/reattach.hpp"
#include "session_fixture.hpp"

namespace jg {
namespace {

using S = SessionState;
using R = Reason;
using test::SessionDriver;

// A record and a request that fail every check at once; fixing the checks one by one in the
// contract's order must reveal them in exactly that order.
TEST(ReattachOrder, FirstFailingCheckDecidesWhenEveryLaterCheckAlsoFails) {
    Policy p;
    SessionRecord s = make_session(42);
    s.state = S::Attached;
    s.binding = test::kHome;
    s.created_at_ms = 0;
    s.last_rx_ms = 0;
    const int64_t now = p.session.max_lifetime_ms + 1;  // expired and long transportless
    s.nonces.insert(77);
    s.switches.record(now - 1);  // inside the cooldown
    s.state_entered_at_ms = now - 10;

    ReattachRequest r;
    r.session_known = false;
    r.proof_ok = false;
    r.nonce = 77;
    r.counter_in_window = false;
    r.client_time_ms = now - p.security.reattach_proof_max_age_ms - 1;
    r.candidate = test::kHome;  // the current binding: not a candidate

    auto expect_next = [&](R reason) {
        EXPECT_EQ(check_reattach(s, r, p, now).reason, reason) << reason_name(reason);
    };
    expect_next(R::unknown_session);
    r.session_known = true;
    expect_next(R::invalid_state_for_reattach);
    s.state = S::Volatile;
    expect_next(R::session_expired);
    s.created_at_ms = now - 1'000;
    expect_next(R::transport_ttl_exceeded);
    s.last_rx_ms = now - 100;
    expect_next(R::bad_proof);
    r.proof_ok = true;
    expect_next(R::replay_detected);  // counter outside the window
    r.counter_in_window = true;
    expect_next(R::replay_detected);  // nonce already seen
    r.nonce = 78;
    expect_next(R::stale_request);
    r.client_time_ms = now;
    expect_next(R::policy_denied);
    s.switches = SwitchHistory{};
    expect_next(R::invalid_transport_candidate);
    r.candidate = test::kCandidate;
    expect_next(R::reattach_success);
}

TEST(ReattachOrder, OnlyVolatileDegradedAndRecoveringAllowReattach) {
    EXPECT_FALSE(state_allows_reattach(S::Birth));
    EXPECT_FALSE(state_allows_reattach(S::Attached));
    EXPECT_TRUE(state_allows_reattach(S::Volatile));
    EXPECT_TRUE(state_allows_reattach(S::Recovering));
    EXPECT_TRUE(state_allows_reattach(S::Degraded));
    EXPECT_FALSE(state_allows_reattach(S::Terminated));
}

TEST(ReattachOrder, TerminatedSessionIsExpired) {
    SessionDriver d;
    d.to_terminated();
    EXPECT_EQ(check_reattach(d.s, d.reattach(), d.policy, d.now + 1).reason, R::session_expired);
}

TEST(ReattachOrder, RecoveryWindowPastItsDeadlineIsAPolicyDenial) {
    SessionDriver d;
    d.to_recovering();
    ReattachRequest r = d.reattach(test::kOther);
    const int64_t late = d.s.recovery_deadline_ms;
    r.client_time_ms = late;
    const ReattachVerdict v = check_reattach(d.s, r, d.policy, late);
    EXPECT_EQ(v.reason, R::policy_denied);
    EXPECT_EQ(v.gate.policy_key, "switching.recovery_window_ms");
}

TEST(ReattachOrder, FreshnessIsAWindowOnBothSidesOfNow) {
    SessionDriver d;
    d.to_volatile();
    const int64_t age = d.policy.security.reattach_proof_max_age_ms;
    ReattachRequest r = d.reattach();
    r.client_time_ms = d.now - age;
    EXPECT_EQ(check_reattach(d.s, r, d.policy, d.now).reason, R::reattach_success);
    r.client_time_ms = d.now + age;
    EXPECT_EQ(check_reattach(d.s, r, d.policy, d.now).reason, R::reattach_success);
    r.client_time_ms = d.now + age + 1;
    EXPECT_EQ(check_reattach(d.s, r, d.policy, d.now).reason, R::stale_request);
    r.client_time_ms = d.now - age - 1;
    EXPECT_EQ(check_reattach(d.s, r, d.policy, d.now).reason, R::stale_request);
}

TEST(ReattachCandidate, RejectsUnspecifiedMulticastLoopbackPortZeroAndTheCurrentBinding) {
    EXPECT_TRUE(transport_candidate_valid(test::kCandidate, test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::kHome, test::kHome));
    EXPECT_FALSE(transport_candidate_valid(TransportAddr{}, test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("0.0.0.0:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("224.0.0.1:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("255.255.255.255:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("127.0.0.1:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("203.0.113.9:0"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("[::]:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("[ff02::1]:1000"), test::kHome));
    EXPECT_TRUE(transport_candidate_valid(test::addr("[2001:db8::1]:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("0.1.2.3:1000"), test::kHome));
    // IPv6 loopback, and IPv4-mapped addresses under the IPv4 rules.
    EXPECT_FALSE(transport_candidate_valid(test::addr("[::1]:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("[::ffff:127.0.0.1]:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("[::ffff:224.0.0.1]:1000"), test::kHome));
    EXPECT_FALSE(transport_candidate_valid(test::addr("[::ffff:0.0.0.0]:1000"), test::kHome));
    EXPECT_TRUE(transport_candidate_valid(test::addr("[::ffff:203.0.113.9]:1000"), test::kHome));
}

// A client clock too far off to subtract from the gateway's is stale, not undefined behaviour.
TEST(ReattachOrder, ClientTimesAtTheEndsOfTheRangeAreStale) {
    SessionDriver d;
    d.to_volatile();
    ReattachRequest r = d.reattach();
    for (const int64_t t :
         {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1,
          std::numeric_limits<int64_t>::max()}) {
        r.client_time_ms = t;
        EXPECT_EQ(check_reattach(d.s, r, d.policy, d.now).reason, R::stale_request) << t;
    }
}

// ---- through step(): what each denial does to the session ----

struct DenialCase {
    const char *name;
    R reason;
    bool security_event;
    bool counts;  // an authenticated denial
    std::function<void(SessionDriver &, ReattachRequest &)> spoil;
};

std::vector<DenialCase> denial_cases() {
    return {
        {"unknown", R::unknown_session, true, false,
         [](SessionDriver &, ReattachRequest &r) { r.session_known = false; }},
        {"bad_proof", R::bad_proof, true, false,
         [](SessionDriver &, ReattachRequest &r) { r.proof_ok = false; }},
        {"counter", R::replay_detected, true, false,
         [](SessionDriver &, ReattachRequest &r) { r.counter_in_window = false; }},
        {"stale", R::stale_request, false, false,
         [](SessionDriver &d, ReattachRequest &r) {
             r.client_time_ms = d.now - d.policy.security.reattach_proof_max_age_ms - 1;
         }},
        {"candidate", R::invalid_transport_candidate, false, true,
         [](SessionDriver &, ReattachRequest &r) { r.candidate = test::kHome; }},
        {"cooldown", R::policy_denied, false, true,
         [](SessionDriver &d, ReattachRequest &) { d.s.switches.record(d.now - 1); }},
    };
}

TEST(ReattachDenial, NeverMovesTheBindingAndOnlyAuthenticatedOnesCount) {
    for (S from : {S::Volatile, S::Degraded, S::Recovering}) {
        for (const DenialCase &c : denial_cases()) {
            SCOPED_TRACE(std::string(state_name(from)) + " " + c.name);
            SessionDriver d;
            d.to_state(from);
            d.now += 10;
            ReattachRequest r = d.reattach(test::kOther);
            c.spoil(d, r);
            const SessionRecord before = d.s;
            const StepResult &res = d.feed(r);
            EXPECT_EQ(d.s.binding, before.binding);
            EXPECT_EQ(d.s.state, from) << "one denial never changes the state";
            EXPECT_EQ(d.s.state_version, before.state_version);
            const auto rr = test::payloads<audit::ReattachResult>(res);
            ASSERT_EQ(rr.size(), 1u);
            // The denial of an unknown session is named by the all-zero id; the attempt to
            // name another session is this session's security event.
            for (const audit::Event &e : res.audit)
                EXPECT_EQ(e.session_id,
                          c.reason == R::unknown_session &&
                                  std::holds_alternative<audit::ReattachResult>(e.payload)
                              ? 0
                              : d.s.session_id);
            EXPECT_FALSE(rr[0]->success);
            EXPECT_EQ(rr[0]->reason_code, c.reason);
            const auto sent = test::actions<SendReattachResult>(res);
            ASSERT_EQ(sent.size(), 1u);
            EXPECT_FALSE(sent[0]->accepted);
            EXPECT_EQ(sent[0]->reason, c.reason);
            const auto sec = test::payloads<audit::SecurityEvent>(res);
            EXPECT_EQ(sec.size(), c.security_event ? 1u : 0u);
            if (c.security_event) {
                EXPECT_EQ(sec[0]->violation,
                          c.reason == R::unknown_session ? R::session_fixation_attempt : c.reason);
                EXPECT_EQ(sec[0]->source, test::kOther.to_string());
            }
            EXPECT_EQ(d.s.counters.reattach_denied, before.counters.reattach_denied + c.counts);
            EXPECT_TRUE(test::actions<SendPathChallenge>(res).empty());
        }
    }
}

TEST(ReattachDenial, RepeatedUnauthenticatedDenialsNeverDegradeARecoveringSession) {
    SessionDriver d;
    d.to_recovering();
    for (int i = 0; i < 50; ++i) {
        ReattachRequest r = d.reattach(test::kOther);
        r.proof_ok = (i % 2) == 0;
        r.counter_in_window = (i % 2) != 0;
        d.after(1, r);
    }
    EXPECT_EQ(d.s.state, S::Recovering);
    EXPECT_EQ(d.s.counters.security_events, 50u);
}

TEST(ReattachDenial, SecondAuthenticatedDenialInRecoveringDegrades) {
    SessionDriver d;
    d.to_recovering();
    d.after(1, d.reattach(test::kHome));
    EXPECT_EQ(d.s.state, S::Recovering);
    const StepResult &r = d.after(1, d.reattach(test::kHome));
    EXPECT_EQ(d.s.state, S::Degraded);
    EXPECT_EQ(test::changes(r).back().reason_code, R::reattach_denied);
}

TEST(ReattachDenial, PolicyDenialIsAuditedAsSwitchDenialWithTheDecidingKey) {
    SessionDriver d;
    d.to_volatile();
    d.s.switches.record(d.now - 100);
    const StepResult &r = d.feed(d.reattach());
    const auto denied = test::payloads<audit::TransportSwitchDenied>(r);
    ASSERT_EQ(denied.size(), 1u);
    EXPECT_EQ(denied[0]->candidate_transport, test::kCandidate);
    EXPECT_EQ(denied[0]->reason_code, R::policy_denied);
    const auto pe = test::payloads<audit::PolicyEvent>(r);
    ASSERT_EQ(pe.size(), 1u);
    EXPECT_EQ(pe[0]->policy_name, "switching.switch_cooldown_ms");
    EXPECT_EQ(pe[0]->threshold_value, 1500.0);
    EXPECT_EQ(pe[0]->observed_value, 100.0);
}

TEST(ReattachDenial, LifetimeAndTtlFailuresTerminateDeterministically) {
    SessionDriver a;
    a.to_volatile();
    a.feed_at(a.s.created_at_ms + a.policy.session.max_lifetime_ms, a.reattach());
    EXPECT_EQ(a.s.state, S::Terminated);
    EXPECT_EQ(test::payloads<audit::ReattachResult>(a.last)[0]->reason_code, R::session_expired);
    EXPECT_EQ(a.s.termination_reason, R::session_lifetime_exceeded);

    SessionDriver b;
    b.to_volatile();
    b.feed_at(b.s.last_rx_ms + b.policy.session.transport_lost_ttl_ms, b.reattach());
    EXPECT_EQ(b.s.state, S::Terminated);
    EXPECT_EQ(test::payloads<audit::ReattachResult>(b.last)[0]->reason_code,
              R::transport_ttl_exceeded);
    EXPECT_EQ(b.s.termination_reason, R::transport_ttl_exceeded);
    EXPECT_EQ(b.s.binding, test::kHome);
}

TEST(ReattachReplay, AcceptedNonceCannotBeUsedAgain) {
    SessionDriver d;
    d.to_volatile();
    ReattachRequest r = d.reattach();
    d.feed(r);
    ASSERT_EQ(d.s.state, S::Recovering);
    r.client_time_ms = d.now + 5;
    d.after(5, r);
    EXPECT_EQ(test::payloads<audit::ReattachResult>(d.last)[0]->reason_code, R::replay_detected);
    EXPECT_EQ(d.s.pending.candidate, test::kCandidate);
}

TEST(ReattachReplay, NoncesArePolicedEvenWhenThePolicyDenies) {
    SessionDriver d;
    d.to_volatile();
    d.s.switches.record(d.now - 1);
    ReattachRequest r = d.reattach();
    d.feed(r);  // policy_denied, but the nonce is spent
    d.s.switches = SwitchHistory{};
    d.after(1, r);
    EXPECT_EQ(test::payloads<audit::ReattachResult>(d.last)[0]->reason_code, R::replay_detected);
}

TEST(ReattachNonces, RemembersExactlyTheWindowNewestNonces) {
    ReattachNonces n;
    for (uint64_t i = 1; i <= 100; ++i)
        n.insert(i);
    EXPECT_TRUE(n.contains(100, 16));
    EXPECT_TRUE(n.contains(85, 16));
    EXPECT_FALSE(n.contains(84, 16));
    EXPECT_TRUE(n.contains(1, 128));
    EXPECT_FALSE(n.contains(101, 128));
}

TEST(ReattachNonces, RingKeepsItsCapacityNewestOnly) {
    ReattachNonces n;
    for (uint64_t i = 0; i < ReattachNonces::kCapacity + 10; ++i)
        n.insert(1'000 + i);
    EXPECT_EQ(n.size(), ReattachNonces::kCapacity);
    EXPECT_FALSE(n.contains(1'000 + 9, 1'000'000));
    EXPECT_TRUE(n.contains(1'000 + 10, 1'000'000));
}

// The ring grows as nonces come and wraps once full; the newest `window` must be exact on
// either side of that point and across several wraps.
TEST(ReattachNonces, WindowIsExactWhileGrowingAndAfterWrapping) {
    ReattachNonces n;
    EXPECT_FALSE(n.contains(0, 16)) << "an empty ring holds nothing, not even zero";
    constexpr uint64_t kTotal = 3 * ReattachNonces::kCapacity + 7;
    for (uint64_t i = 1; i <= kTotal; ++i) {
        n.insert(i);
        const uint64_t held = std::min<uint64_t>(i, ReattachNonces::kCapacity);
        ASSERT_EQ(n.size(), held);
        ASSERT_TRUE(n.contains(i, 1));
        ASSERT_FALSE(n.contains(i - 1, 1));
        ASSERT_TRUE(n.contains(i - held + 1, 1'000'000)) << "oldest held, after " << i;
        if (i > held) {
            ASSERT_FALSE(n.contains(i - held, 1'000'000)) << "evicted, after " << i;
        }
    }
}

}  // namespace
}  // namespace jg
