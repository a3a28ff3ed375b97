// The contract's transition table, row by row, and the (state, event) pairs that do not
// transition: what each of them does instead (applied without a transition, ignored, rejected).
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <tuple>

#include "session/reattach.hpp"
#include "session_fixture.hpp"

namespace jg {
namespace {

using S = SessionState;
using R = Reason;
using test::SessionDriver;

TEST(TransitionTable, HasExactlyTheContractRows) {
    // 1 + 6 + 1 + 2 + 1 + 1 + 2 + 2 + 1 rows between live states, then 5 states x 7 reasons
    // into TERMINATED.
    EXPECT_EQ(transition_table().size(), 52u);
    EXPECT_TRUE(transition_allowed(S::Birth, S::Attached, R::handshake_ok));
    EXPECT_FALSE(transition_allowed(S::Attached, S::Recovering, R::reattach_requested));
    EXPECT_FALSE(transition_allowed(S::Attached, S::Degraded, R::volatile_persisted));
    EXPECT_FALSE(transition_allowed(S::Recovering, S::Attached, R::health_recovered));
    EXPECT_FALSE(transition_allowed(S::Volatile, S::Attached, R::reattach_success));
    EXPECT_FALSE(transition_allowed(S::Terminated, S::Attached, R::handshake_ok));
    EXPECT_FALSE(transition_allowed(S::Terminated, S::Terminated, R::explicit_termination));
    for (const Transition &t : transition_table())
        EXPECT_NE(t.from, S::Terminated);
}

struct Row {
    const char *name;
    S from;
    S to;
    R reason;
    std::function<void(SessionDriver &)> trigger;  // run from a session already in `from`
};

Policy thresholds_on() {
    Policy p;
    p.volatility.latency_volatile_threshold_ms = 200;
    p.volatility.jitter_volatile_threshold_ms = 50;
    return p;
}

std::vector<Row> live_rows() {
    return {
        {"handshake", S::Birth, S::Attached, R::handshake_ok,
         [](SessionDriver &d) {
             d.feed(HandshakeCompleted{test::kHome, "peer", 1});
         }},
        {"loss", S::Attached, S::Volatile, R::loss_threshold_exceeded,
         [](SessionDriver &d) {
             d.feed(HealthSample{0.25, 20, 1, 0});
         }},
        {"heartbeat_timeout", S::Attached, S::Volatile, R::heartbeat_timeout,
         [](SessionDriver &d) { d.after(d.policy.volatility.heartbeat_volatile_ms, TimerTick{}); }},
        {"drops", S::Attached, S::Volatile, R::consecutive_drop_exceeded,
         [](SessionDriver &d) {
             d.after(100, HeartbeatReceived{1, 20, 0, 0});
             d.after(100, HeartbeatReceived{6, 20, 0, 0});  // 2..5 missing: 4 > 3
         }},
        {"latency", S::Attached, S::Volatile, R::latency_threshold_exceeded,
         [](SessionDriver &d) {
             d.feed(HealthSample{0.0, 250, 1, 0});
         }},
        {"jitter", S::Attached, S::Volatile, R::jitter_threshold_exceeded,
         [](SessionDriver &d) {
             d.feed(HealthSample{0.0, 20, 60, 0});
         }},
        {"address_change", S::Attached, S::Volatile, R::address_change_observed,
         [](SessionDriver &d) {
             d.feed(AddressChangeObserved{test::kCandidate, test::kChallenge});
         }},
        {"stability", S::Volatile, S::Attached, R::health_recovered,
         [](SessionDriver &d) {
             uint64_t seq = 0;
             d.healthy_heartbeats_for(d.policy.volatility.stability_window_ms + 500, seq);
         }},
        {"reattach_volatile", S::Volatile, S::Recovering, R::reattach_requested,
         [](SessionDriver &d) { d.feed(d.reattach()); }},
        {"validation_volatile", S::Volatile, S::Recovering, R::path_validation_started,
         [](SessionDriver &d) {
             d.feed(AddressChangeObserved{test::kCandidate, test::kChallenge});
         }},
        {"persisted", S::Volatile, S::Degraded, R::volatile_persisted,
         [](SessionDriver &d) {
             d.after(d.policy.volatility.volatile_to_degraded_ms, TimerTick{});
         }},
        {"reattach_success", S::Recovering, S::Attached, R::reattach_success,
         [](SessionDriver &d) {
             d.after(30, PathResponse{test::kCandidate, test::kChallenge});
         }},
        {"denied_twice", S::Recovering, S::Degraded, R::reattach_denied,
         [](SessionDriver &d) {
             d.feed(d.reattach(test::kHome));  // the current binding: invalid candidate
             ASSERT_EQ(d.s.state, S::Recovering) << "one denial is tolerated";
             d.feed(d.reattach(test::kHome));
         }},
        {"window_expired", S::Recovering, S::Degraded, R::recovery_window_expired,
         [](SessionDriver &d) { d.after(d.policy.switching.recovery_window_ms, TimerTick{}); }},
        {"reattach_degraded", S::Degraded, S::Recovering, R::reattach_requested,
         [](SessionDriver &d) { d.feed(d.reattach()); }},
        {"validation_degraded", S::Degraded, S::Recovering, R::path_validation_started,
         [](SessionDriver &d) {
             d.feed(AddressChangeObserved{test::kCandidate, test::kChallenge});
         }},
        {"recovered_degraded", S::Degraded, S::Attached, R::health_recovered,
         [](SessionDriver &d) {
             uint64_t seq = 0;
             d.healthy_heartbeats_for(d.policy.volatility.stability_window_ms + 500, seq);
         }},
    };
}

// How each terminal reason is reached from a live state: by its own cause where the session
// has one (timers, key expiry), by a TERMINATE otherwise.
void terminate_by(SessionDriver &d, R reason) {
    switch (reason) {
        case R::session_lifetime_exceeded:
            d.feed_at(d.s.created_at_ms + d.policy.session.max_lifetime_ms, TimerTick{});
            return;
        case R::transport_ttl_exceeded:
            d.feed_at(d.s.last_rx_ms + d.policy.session.transport_lost_ttl_ms, TimerTick{});
            return;
        case R::key_expired:
            d.feed(KeyExpired{});
            return;
        default:
            d.feed(TerminationRequested{reason});
            return;
    }
}

TEST(TransitionTable, EveryRowIsTakenWithItsReasonAndNothingElse) {
    std::set<std::tuple<S, S, R>> taken;
    for (const Row &row : live_rows()) {
        SCOPED_TRACE(row.name);
        SessionDriver d;
        d.policy = thresholds_on();
        d.to_state(row.from);
        ASSERT_EQ(d.s.state, row.from);
        const uint64_t v0 = d.s.state_version;
        row.trigger(d);
        const auto cs = test::changes(d.last);
        ASSERT_FALSE(cs.empty());
        EXPECT_EQ(cs.front().previous_state, row.from);
        EXPECT_EQ(cs.front().new_state, row.to);
        EXPECT_EQ(cs.front().reason_code, row.reason);
        EXPECT_GT(d.s.state_version, v0);
        taken.insert({cs.front().previous_state, cs.front().new_state, cs.front().reason_code});
    }
    for (S from : {S::Attached, S::Volatile, S::Recovering, S::Degraded}) {
        for (const Transition &t : transition_table()) {
            if (t.from != from || t.to != S::Terminated)
                continue;
            SCOPED_TRACE(std::string(state_name(from)) + " " + std::string(reason_name(t.reason)));
            SessionDriver d;
            d.to_state(from);
            terminate_by(d, t.reason);
            ASSERT_EQ(d.s.state, S::Terminated);
            const auto cs = test::changes(d.last);
            ASSERT_EQ(cs.size(), 1u);
            EXPECT_EQ(cs[0].previous_state, from);
            EXPECT_EQ(cs[0].reason_code, t.reason);
            const auto term = test::payloads<audit::SessionTerminated>(d.last);
            ASSERT_EQ(term.size(), 1u);
            EXPECT_EQ(term[0]->reason_code, t.reason);
            ASSERT_EQ(test::actions<Terminate>(d.last).size(), 1u);
            taken.insert({cs[0].previous_state, cs[0].new_state, cs[0].reason_code});
        }
    }
    // Every row except BIRTH -> TERMINATED (see BirthIgnoresEverythingButAHandshake).
    size_t birth_terminal_rows = 0;
    for (const Transition &t : transition_table()) {
        if (t.from == S::Birth && t.to == S::Terminated) {
            ++birth_terminal_rows;
            continue;
        }
        EXPECT_TRUE(taken.count({t.from, t.to, t.reason}))
            << state_name(t.from) << "->" << state_name(t.to) << " " << reason_name(t.reason);
    }
    EXPECT_EQ(taken.size() + birth_terminal_rows, transition_table().size());
}

// BIRTH has no session object: the table lets an auditor accept BIRTH -> TERMINATED, but the
// FSM only ever leaves BIRTH through a handshake and emits nothing before it.
TEST(TransitionTable, BirthIgnoresEverythingButAHandshake) {
    for (const SessionEvent &e :
         {SessionEvent{TerminationRequested{R::explicit_termination}}, SessionEvent{KeyExpired{}},
          SessionEvent{TimerTick{}}, SessionEvent{HelloReceived{}},
          SessionEvent{HeartbeatReceived{1, 20, 1, 0}}, SessionEvent{HealthSample{}},
          SessionEvent{AddressChangeObserved{test::kCandidate, test::kChallenge}},
          SessionEvent{ReattachRequest{}}, SessionEvent{PathResponse{}}}) {
        SessionDriver d;
        const StepResult &r = d.feed(e);
        EXPECT_EQ(r.outcome, StepOutcome::Ignored) << event_kind_name(e);
        EXPECT_TRUE(r.audit.empty());
        EXPECT_TRUE(r.actions.empty());
        EXPECT_EQ(d.s.state, S::Birth);
        EXPECT_EQ(d.s.state_version, 0u);
    }
}

// What the FSM does with an ordinary instance of each event in each state. `Into` names the
// state a transition goes to (the first one when a step takes two); Applied means handled
// without a transition; Ignored and Rejected leave the record exactly as it was.
enum class Expect { Into, Applied, Ignored, Rejected };
struct Cell {
    Expect what;
    S into = S::Birth;
};

SessionEvent ordinary(int kind, SessionDriver &d) {
    switch (kind) {
        case 0:
            return HandshakeCompleted{test::kHome, "peer", 2};
        case 1:
            return HelloReceived{};
        case 2:
            return HeartbeatReceived{1, 20, 10, 0};
        case 3:
            return HealthSample{0.0, 20, 1, 0};
        case 4:
            return TimerTick{};
        case 5:
            return AddressChangeObserved{test::kOther, test::kChallenge};
        case 6:
            return d.reattach(test::kCandidate);
        case 7:
            return PathResponse{test::kCandidate, test::kChallenge};
        case 8:
            return TerminationRequested{R::explicit_termination};
        case 9:
            return KeyExpired{};
        default:
            return CandidatePathReport{test::kOther, {0.0, 5.0, 0.5, 0}, test::kChallenge};
    }
}

TEST(TransitionTable, EveryStateEventPairDoesWhatTheContractSays) {
    const Cell A{Expect::Applied}, I{Expect::Ignored}, X{Expect::Rejected};
    auto into = [](S s) { return Cell{Expect::Into, s}; };
    const Cell T = into(S::Terminated);
    // Columns: handshake, hello, heartbeat, health_sample, tick, address_change,
    // reattach_request, path_response, terminate, key_expired, candidate_report.
    const std::vector<std::pair<S, std::vector<Cell>>> matrix = {
        // Nothing exists before the handshake.
        {S::Birth, {into(S::Attached), I, I, I, I, I, I, I, I, I, I}},
        // Reattach from ATTACHED is invalid_state_for_reattach (applied: denied and audited);
        // a path response with no validation in flight is ignored; a better candidate does
        // not move a healthy session (no ATTACHED -> RECOVERING in the contract).
        {S::Attached, {A, A, A, A, A, into(S::Volatile), A, I, T, T, I}},
        {S::Volatile,
         {A, A, A, A, A, into(S::Recovering), into(S::Recovering), I, T, T, into(S::Recovering)}},
        // While RECOVERING, another address or candidate is ignored (one validation at a
        // time); a new reattach redirects the validation without a transition.
        {S::Recovering, {A, A, A, A, A, I, A, into(S::Attached), T, T, I}},
        {S::Degraded,
         {A, A, A, A, A, into(S::Recovering), into(S::Recovering), I, T, T, into(S::Recovering)}},
        // Nothing is accepted after TERMINATED.
        {S::Terminated, {X, X, X, X, X, X, X, X, X, X, X}},
    };
    for (const auto &[state, cells] : matrix) {
        ASSERT_EQ(cells.size(), static_cast<size_t>(kSessionEventKinds));
        for (int kind = 0; kind < kSessionEventKinds; ++kind) {
            SCOPED_TRACE(std::string(state_name(state)) + " x " +
                         std::string(event_kind_name(kind)));
            SessionDriver d;
            d.to_state(state);
            d.now += 100;
            const SessionEvent e = ordinary(kind, d);
            const SessionRecord before = d.s;
            const StepResult &r = d.feed(e);
            const Cell &c = cells[kind];
            const auto cs = test::changes(r);
            switch (c.what) {
                case Expect::Into:
                    EXPECT_EQ(r.outcome, StepOutcome::Applied);
                    ASSERT_FALSE(cs.empty());
                    EXPECT_EQ(cs.front().previous_state, state);
                    EXPECT_EQ(cs.front().new_state, c.into);
                    break;
                case Expect::Applied:
                    EXPECT_EQ(r.outcome, StepOutcome::Applied);
                    EXPECT_TRUE(cs.empty());
                    EXPECT_EQ(d.s.state, state);
                    EXPECT_EQ(d.s.state_version, before.state_version);
                    break;
                case Expect::Ignored:
                case Expect::Rejected:
                    EXPECT_EQ(r.outcome, c.what == Expect::Ignored ? StepOutcome::Ignored
                                                                   : StepOutcome::Rejected);
                    EXPECT_TRUE(cs.empty());
                    EXPECT_EQ(d.s.state, state);
                    EXPECT_EQ(d.s.state_version, before.state_version);
                    EXPECT_EQ(d.s.binding, before.binding);
                    break;
            }
            for (const auto &ch : cs)
                EXPECT_TRUE(transition_allowed(ch.previous_state, ch.new_state, ch.reason_code));
        }
    }
}

TEST(StateMachine, AfterTerminatedOnlyAReattachDenialIsEmitted) {
    SessionDriver d;
    d.to_terminated();
    const StepResult &r = d.after(10, d.reattach());
    EXPECT_EQ(r.outcome, StepOutcome::Rejected);
    ASSERT_EQ(r.audit.size(), 1u);
    const auto *res = std::get_if<audit::ReattachResult>(&r.audit[0].payload);
    ASSERT_NE(res, nullptr);
    EXPECT_FALSE(res->success);
    EXPECT_EQ(res->reason_code, R::session_expired);
    ASSERT_EQ(test::actions<SendReattachResult>(r).size(), 1u);
    EXPECT_FALSE(test::actions<SendReattachResult>(r)[0]->accepted);
}

TEST(StateMachine, HandshakeCreatesTheSessionAtVersionZeroThenAttachesAtOne) {
    SessionDriver d;
    const StepResult &r = d.feed(HandshakeCompleted{test::kHome, "cGVlcg==", 1});
    ASSERT_EQ(r.audit.size(), 2u);
    EXPECT_EQ(audit::event_type_name(r.audit[0].payload), "SessionCreated");
    EXPECT_EQ(r.audit[0].state_version, 0u);
    EXPECT_EQ(r.audit[1].state_version, 1u);
    EXPECT_EQ(d.s.binding, test::kHome);
    EXPECT_EQ(d.s.created_at_ms, d.now);
    for (const auto &e : r.audit) {
        EXPECT_EQ(e.session_id, d.s.session_id);
        EXPECT_EQ(e.policy_version, d.policy.version);
        EXPECT_EQ(e.ts_ms, d.now);
    }
}

TEST(StateMachine, RehandshakeRotatesKeysInsideTheSession) {
    SessionDriver d;
    d.to_volatile();
    const uint64_t id = d.s.session_id, v = d.s.state_version;
    const StepResult &r = d.after(5, HandshakeCompleted{test::kHome, "peer", 7});
    const auto rot = test::payloads<audit::KeyRotated>(r);
    ASSERT_EQ(rot.size(), 1u);
    EXPECT_EQ(rot[0]->key_epoch, 7u);
    EXPECT_EQ(d.s.session_id, id);
    EXPECT_EQ(d.s.state_version, v);
    EXPECT_EQ(d.s.state, S::Volatile);
    EXPECT_EQ(d.s.counters.key_rotations, 1u);
}

TEST(StateMachine, HelloMarksAJumpgateClientAndIsAnsweredWithTheCurrentVersion) {
    SessionDriver d;
    d.to_attached(false);
    const StepResult &r = d.feed(HelloReceived{});
    EXPECT_TRUE(d.s.jumpgate_client);
    const auto ack = test::actions<SendHelloAck>(r);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(ack[0]->session_id, d.s.session_id);
    EXPECT_EQ(ack[0]->state, S::Attached);
    EXPECT_EQ(ack[0]->state_version, d.s.state_version);
}

TEST(StateMachine, VolatileAndDegradedAreHintedToJumpgateClientsOnly) {
    SessionDriver jg;
    jg.to_attached(true);
    const auto hints = test::actions<SendStateHint>(jg.feed(HealthSample{0.5, 20, 1, 0}));
    ASSERT_EQ(hints.size(), 1u);
    EXPECT_EQ(hints[0]->state, S::Volatile);
    EXPECT_EQ(hints[0]->reason, R::loss_threshold_exceeded);

    SessionDriver stock;
    stock.to_attached(false);
    EXPECT_TRUE(test::actions<SendStateHint>(stock.feed(HealthSample{0.5, 20, 1, 0})).empty());
}

TEST(StateMachine, NatRebindingValidatesTheNewAddressThenSwitchesWithTwoVersionBumps) {
    SessionDriver d;
    d.to_attached();
    const uint64_t v = d.s.state_version;
    const StepResult &r = d.after(100, AddressChangeObserved{test::kCandidate, test::kChallenge});
    const auto cs = test::changes(r);
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].reason_code, R::address_change_observed);
    EXPECT_EQ(cs[1].reason_code, R::path_validation_started);
    EXPECT_EQ(d.s.state_version, v + 2);
    const auto ch = test::actions<SendPathChallenge>(r);
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0]->to, test::kCandidate);
    EXPECT_EQ(ch[0]->data, test::kChallenge);
    EXPECT_EQ(d.s.binding, test::kHome) << "the binding moves only after the response";

    const StepResult &ok = d.after(40, PathResponse{test::kCandidate, test::kChallenge});
    EXPECT_EQ(d.s.binding, test::kCandidate);
    EXPECT_EQ(d.s.state, S::Attached);
    EXPECT_EQ(d.s.state_version, v + 4);  // switch + transition
    const auto sw = test::payloads<audit::TransportSwitch>(ok);
    ASSERT_EQ(sw.size(), 1u);
    EXPECT_EQ(sw[0]->previous_transport, test::kHome);
    EXPECT_EQ(sw[0]->new_transport, test::kCandidate);
    EXPECT_EQ(sw[0]->reason_code, R::address_change_observed);
    EXPECT_EQ(sw[0]->switch_latency_ms, 40);
    EXPECT_EQ(ok.audit[0].state_version, v + 3);
    EXPECT_EQ(ok.audit[1].state_version, v + 4);
    ASSERT_EQ(test::actions<SwitchBinding>(ok).size(), 1u);
    EXPECT_TRUE(test::actions<SendReattachResult>(ok).empty()) << "nobody asked";
}

TEST(StateMachine, BetterCandidateByTheImprovementFactorIsValidatedThenSwitched) {
    SessionDriver d;
    d.to_volatile();  // current: loss 0.9, rtt 20, jitter 1
    const HealthSnapshot better{0.0, 40.0, 2.0, 0};
    const StepResult &r = d.after(10, CandidatePathReport{test::kOther, better, test::kChallenge});
    const auto cs = test::changes(r);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].new_state, S::Recovering);
    EXPECT_EQ(cs[0].reason_code, R::path_validation_started);
    ASSERT_EQ(test::actions<SendPathChallenge>(r).size(), 1u);
    const StepResult &ok = d.after(30, PathResponse{test::kOther, test::kChallenge});
    const auto sw = test::payloads<audit::TransportSwitch>(ok);
    ASSERT_EQ(sw.size(), 1u);
    EXPECT_EQ(sw[0]->reason_code, R::path_improvement);
    EXPECT_EQ(test::changes(ok).back().reason_code, R::reattach_success);
    EXPECT_EQ(d.s.binding, test::kOther);
}

TEST(StateMachine, CandidateBelowTheImprovementFactorOrUnhealthyIsNotTaken) {
    SessionDriver d;
    d.policy.switching.switch_improvement_factor = 2.0;
    d.to_attached();
    d.feed(HealthSample{0.0, 700.0, 0.0, 4});  // 4 drops: VOLATILE, score 1000 / (701 * 5)
    ASSERT_EQ(d.s.state, S::Volatile);
    const double current = path_score(d.s.health);
    const HealthSnapshot not_enough{0.0, 1'500.0, 0.0, 1};  // 1000 / (1501 * 2): 1.17x
    ASSERT_LT(path_score(not_enough), 2.0 * current);
    EXPECT_TRUE(
        test::changes(d.after(1, CandidatePathReport{test::kOther, not_enough, test::kChallenge}))
            .empty());
    // Far better by score, but over the loss threshold itself: not a healthy path.
    const HealthSnapshot lossy_fast{0.5, 1.0, 0.0, 0};
    ASSERT_GT(path_score(lossy_fast), 2.0 * current);
    EXPECT_TRUE(
        test::changes(d.after(1, CandidatePathReport{test::kOther, lossy_fast, test::kChallenge}))
            .empty());
    EXPECT_EQ(d.s.state, S::Volatile);
    const HealthSnapshot enough{0.0, 700.0, 0.0, 1};  // 1000 / (701 * 2): 2.5x
    ASSERT_GT(path_score(enough), 2.0 * current);
    EXPECT_FALSE(
        test::changes(d.after(1, CandidatePathReport{test::kOther, enough, test::kChallenge}))
            .empty());
    EXPECT_EQ(d.s.state, S::Recovering);
}

TEST(StateMachine, WrongPathResponseIsAnAuthenticatedDenialAndLeavesTheBinding) {
    SessionDriver d;
    d.to_recovering();
    const StepResult &r = d.after(10, PathResponse{test::kCandidate, test::kWrongAnswer});
    EXPECT_EQ(d.s.binding, test::kHome);
    EXPECT_EQ(d.s.state, S::Recovering);
    const auto res = test::payloads<audit::ReattachResult>(r);
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0]->reason_code, R::path_validation_failed);
    EXPECT_EQ(d.s.counters.reattach_denied, 1u);
    EXPECT_FALSE(d.s.pending.active);
}

TEST(StateMachine, PathResponseFromAnotherAddressIsIgnored) {
    SessionDriver d;
    d.to_recovering();
    const StepResult &r = d.after(10, PathResponse{test::kOther, test::kChallenge});
    EXPECT_EQ(r.outcome, StepOutcome::Ignored);
    EXPECT_TRUE(d.s.pending.active);
}

TEST(StateMachine, ExpiredRecoveryWindowAnswersThePendingReattach) {
    SessionDriver d;
    d.to_recovering();
    const StepResult &r = d.after(d.policy.switching.recovery_window_ms, TimerTick{});
    EXPECT_EQ(d.s.state, S::Degraded);
    const auto res = test::payloads<audit::ReattachResult>(r);
    ASSERT_EQ(res.size(), 1u);
    EXPECT_FALSE(res[0]->success);
    EXPECT_EQ(res[0]->reason_code, R::path_validation_failed);
    // The answer carries the version before the transition, the transition the one after.
    EXPECT_LT(r.audit[0].state_version, r.audit[1].state_version);
}

TEST(StateMachine, ReattachAttemptCarriesTheRecoveryDeadline) {
    SessionDriver d;
    d.to_volatile();
    const StepResult &r = d.after(10, d.reattach());
    const auto at = test::payloads<audit::ReattachAttempt>(r);
    ASSERT_EQ(at.size(), 1u);
    EXPECT_EQ(at[0]->recovery_deadline_ms, d.now + d.policy.switching.recovery_window_ms);
    EXPECT_EQ(at[0]->candidate_transport, test::kCandidate);
}

TEST(StateMachine, RecoveringRequestRedirectsValidationWithoutATransition) {
    SessionDriver d;
    d.to_recovering();
    const uint64_t v = d.s.state_version;
    ReattachRequest r = d.reattach(test::kOther);
    r.challenge = test::kWrongAnswer;
    const StepResult &res = d.after(10, r);
    EXPECT_TRUE(test::changes(res).empty());
    EXPECT_EQ(d.s.state_version, v);
    EXPECT_EQ(d.s.pending.candidate, test::kOther);
    EXPECT_EQ(d.s.pending.challenge, test::kWrongAnswer);
}

TEST(StateMachine, TerminationWithANonTerminalReasonIsRejected) {
    SessionDriver d;
    d.to_attached();
    const StepResult &r = d.feed(TerminationRequested{R::health_recovered});
    EXPECT_EQ(r.outcome, StepOutcome::Rejected);
    EXPECT_EQ(d.s.state, S::Attached);
}

TEST(StateMachine, CompareAndSwapRejectsAStaleVersion) {
    SessionDriver d;
    d.to_attached();
    const uint64_t v = d.s.state_version;
    const StepResult r = step_if_version(d.s, v - 1, HealthSample{0.9, 0, 0, 0}, d.policy, d.now);
    EXPECT_EQ(r.outcome, StepOutcome::Rejected);
    EXPECT_EQ(r.rejected_because, R::stale_state_version);
    EXPECT_EQ(d.s.state, S::Attached);
    const StepResult ok = step_if_version(d.s, v, HealthSample{0.9, 0, 0, 0}, d.policy, d.now);
    EXPECT_EQ(ok.outcome, StepOutcome::Applied);
    EXPECT_EQ(d.s.state, S::Volatile);
}

TEST(StateMachine, TerminationReportsAgeTransportlessTimeAndSwitches) {
    SessionDriver d;
    d.to_attached();
    const int64_t created = d.now;
    d.after(d.policy.volatility.heartbeat_volatile_ms, TimerTick{});
    const StepResult &r =
        d.feed_at(d.s.last_rx_ms + d.policy.session.transport_lost_ttl_ms, TimerTick{});
    const auto t = test::payloads<audit::SessionTerminated>(r);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0]->reason_code, R::transport_ttl_exceeded);
    EXPECT_EQ(t[0]->session_age_ms, d.now - created);
    EXPECT_EQ(t[0]->transportless_age_ms, d.policy.session.transport_lost_ttl_ms);
    EXPECT_EQ(t[0]->total_switches, 0u);
}

TEST(StateMachine, HealthRecoveryNeedsAnUnbrokenStabilityWindow) {
    SessionDriver d;
    d.to_volatile();
    d.policy.volatility.volatile_to_degraded_ms = 60'000;
    const int64_t w = d.policy.volatility.stability_window_ms;
    uint64_t seq = 0;
    d.healthy_heartbeats_for(w - 500, seq);
    EXPECT_EQ(d.s.state, S::Volatile);
    d.after(0, HealthSample{0.5, 20, 1, 0});  // breaks the run
    d.healthy_heartbeats_for(w - 500, seq);
    EXPECT_EQ(d.s.state, S::Volatile) << "the window restarted at the bad sample";
    d.healthy_heartbeats_for(1'000, seq);
    EXPECT_EQ(d.s.state, S::Attached);
    EXPECT_EQ(d.s.healthy_since_ms + w, d.s.state_entered_at_ms);
}

TEST(StateMachine, SilenceBreaksTheStabilityWindow) {
    SessionDriver d;
    d.to_volatile();
    d.policy.volatility.volatile_to_degraded_ms = 60'000;
    d.after(100, HeartbeatReceived{1, 20, 10, 0});
    d.after(d.policy.volatility.heartbeat_volatile_ms, TimerTick{});  // nothing heard
    EXPECT_EQ(d.s.healthy_since_ms, kNever);
    d.after(d.policy.volatility.stability_window_ms, HeartbeatReceived{2, 20, 10, 0});
    EXPECT_EQ(d.s.state, S::Volatile);
}

}  // namespace
}  // namespace jg
