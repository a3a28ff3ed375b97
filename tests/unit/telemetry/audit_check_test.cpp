#include "telemetry/audit_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "telemetry/audit_json.hpp"

namespace jg {
namespace {

using ::testing::HasSubstr;
using S = SessionState;
using R = Reason;

constexpr uint64_t kA = 0xa1;
constexpr uint64_t kB = 0xb2;

TransportAddr addr(std::string_view s) {
    return *parse_transport(s);
}
const TransportAddr kA1 = addr("198.51.100.7:51820");
const TransportAddr kA2 = addr("[2001:db8::7]:40001");
const TransportAddr kB1 = addr("203.0.113.20:51820");
const TransportAddr kB2 = addr("203.0.113.21:6000");
const TransportAddr kB3 = addr("203.0.113.22:6001");

audit::Event ev(int64_t ts, uint64_t sid, uint64_t version, audit::Payload p) {
    return audit::Event{ts, sid, version, "builtin-1", std::move(p)};
}
audit::Event created(int64_t ts, uint64_t sid, TransportAddr t) {
    return ev(ts, sid, 0, audit::SessionCreated{"cGVlcg==", t});
}
audit::Event change(int64_t ts, uint64_t sid, uint64_t v, S from, S to, R r) {
    return ev(ts, sid, v, audit::SessionStateChange{from, to, r});
}
audit::Event switched(int64_t ts, uint64_t sid, uint64_t v, TransportAddr from, TransportAddr to,
                      R r) {
    return ev(ts, sid, v, audit::TransportSwitch{from, to, r, 300, 0.3, 40.0});
}

// A log exercising every rule the checker knows, interleaving two sessions. Line numbers in
// the comments are the ones the corruption tests refer to.
std::vector<audit::Event> valid_log() {
    return {
        created(1000, kA, kA1),                                                          // 1
        change(1000, kA, 1, S::Birth, S::Attached, R::handshake_ok),                     // 2
        created(1100, kB, kB1),                                                          // 3
        change(1100, kB, 1, S::Birth, S::Attached, R::handshake_ok),                     // 4
        change(5000, kA, 2, S::Attached, S::Volatile, R::loss_threshold_exceeded),       // 5
        change(5200, kA, 3, S::Volatile, S::Recovering, R::reattach_requested),          // 6
        ev(5200, kA, 3, audit::ReattachAttempt{kA2, 13200}),                             // 7
        switched(5300, kA, 4, kA1, kA2, R::reattach_success),                            // 8
        change(5300, kA, 5, S::Recovering, S::Attached, R::reattach_success),            // 9
        ev(5300, kA, 5, audit::ReattachResult{true, R::reattach_success}),               // 10
        ev(5400, kB, 1, audit::KeyRotated{2}),                                           // 11
        switched(6000, kB, 2, kB1, kB2, R::legacy_roaming),                              // 12
        ev(6500, kB, 2, audit::TransportSwitchDenied{kB3, R::policy_denied}),            // 13
        ev(6500, kB, 2, audit::PolicyEvent{"switching.switch_cooldown_ms", 1500, 500}),  // 14
        ev(7000, 0, 0, audit::SecurityEvent{R::replay_detected, "192.0.2.1:999"}),       // 15
        change(9000, kA, 6, S::Attached, S::Terminated, R::explicit_termination),        // 16
        ev(9000, kA, 6, audit::SessionTerminated{R::explicit_termination, 8000, 0, 1}),  // 17
        ev(9500, kA, 6, audit::ReattachResult{false, R::session_expired}),               // 18
        switched(9600, kB, 3, kB2, kB1, R::legacy_roaming),                              // 19
    };
}

std::string to_text(const std::vector<std::string> &lines) {
    std::string text;
    for (const auto &l : lines)
        text += l + "\n";
    return text;
}

AuditCheckReport check_lines(const std::vector<std::string> &lines,
                             const AuditCheckLimits &limits = {}) {
    std::istringstream in(to_text(lines));
    return audit_check(in, limits);
}

AuditCheckReport check(const std::vector<audit::Event> &events,
                       const AuditCheckLimits &limits = {}) {
    return check_lines(audit::render_lines(events, "gw-1"), limits);
}

std::string dump_report(const AuditCheckReport &r) {
    std::string s;
    for (const auto &v : r.violations)
        s += std::to_string(v.line) + ": " + v.message + "\n";
    return s;
}

// The first violation is on `line` and says `what`.
void expect_first_violation(const AuditCheckReport &r, size_t line, std::string_view what) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.violations.front().line, line) << dump_report(r);
    EXPECT_THAT(r.violations.front().message, HasSubstr(std::string(what))) << dump_report(r);
}

TEST(AuditCheck, ValidLogPasses) {
    const auto r = check(valid_log());
    EXPECT_TRUE(r.ok()) << dump_report(r);
    EXPECT_EQ(r.lines, 19u);
    EXPECT_EQ(r.events, 19u);
    EXPECT_EQ(r.sessions, 2u);
}

TEST(AuditCheck, SkippedVersionFailsOnThatLine) {
    auto log = valid_log();
    log[8].state_version = 6;  // line 9: 4 -> 6
    expect_first_violation(check(log), 9, "skipped state_version: expected 5, got 6");
}

TEST(AuditCheck, DuplicateVersionFailsOnThatLine) {
    auto log = valid_log();
    log[5].state_version = 2;  // line 6 reuses line 5's version
    expect_first_violation(check(log), 6, "duplicate state_version 2 (already used at line 5)");
}

TEST(AuditCheck, VersionGoingBackwardsFails) {
    auto log = valid_log();
    log[8].state_version = 3;  // line 9 after 4
    expect_first_violation(check(log), 9, "goes backwards");
}

TEST(AuditCheck, UnversionedEventWithNewVersionFails) {
    auto log = valid_log();
    log[10].state_version = 2;  // line 11: KeyRotated must keep version 1
    expect_first_violation(check(log), 11, "KeyRotated carries state_version 2, current is 1");
}

TEST(AuditCheck, ForbiddenTransitionFails) {
    auto log = valid_log();
    log[4] = change(5000, kA, 2, S::Attached, S::Volatile, R::health_recovered);  // line 5
    expect_first_violation(check(log), 5,
                           "forbidden transition ATTACHED->VOLATILE with reason health_recovered");
}

TEST(AuditCheck, TransitionOutOfTerminatedFails) {
    auto log = valid_log();
    log.push_back(change(9700, kA, 7, S::Terminated, S::Attached, R::health_recovered));  // 20
    expect_first_violation(check(log), 20, "after TERMINATED at line 16");
}

TEST(AuditCheck, WrongPreviousStateFails) {
    auto log = valid_log();
    // DEGRADED -> RECOVERING is a valid transition, but this session is VOLATILE.
    log[5] = change(5200, kA, 3, S::Degraded, S::Recovering, R::reattach_requested);  // line 6
    expect_first_violation(check(log), 6, "previous_state DEGRADED but the session is VOLATILE");
}

TEST(AuditCheck, SwitchFromANonCurrentTransportFails) {
    auto log = valid_log();
    log[18] = switched(9600, kB, 3, kB1, kB3, R::legacy_roaming);  // line 19: B is on kB2
    expect_first_violation(check(log), 19,
                           "previous_transport 203.0.113.20:51820 is not the active binding "
                           "203.0.113.21:6000");
}

TEST(AuditCheck, ReattachSwitchOutsideRecoveringFails) {
    auto log = valid_log();
    log[18] = switched(9600, kB, 3, kB2, kB1, R::reattach_success);  // line 19: B is ATTACHED
    expect_first_violation(check(log), 19, "while ATTACHED");
}

TEST(AuditCheck, ReattachSwitchWithoutReturnToAttachedFails) {
    auto log = valid_log();
    log[8] = change(5300, kA, 5, S::Recovering, S::Degraded, R::recovery_window_expired);  // 9
    log.erase(log.begin() + 9);  // the ReattachResult SUCCESS
    log[14] = change(9000, kA, 6, S::Degraded, S::Terminated, R::explicit_termination);
    expect_first_violation(check(log), 9,
                           "TransportSwitch (line 8) must be followed by SessionStateChange "
                           "RECOVERING->ATTACHED reattach_success");
}

TEST(AuditCheck, SwitchWithANonSwitchReasonFails) {
    auto log = valid_log();
    log[18] = switched(9600, kB, 3, kB2, kB1, R::heartbeat_timeout);
    expect_first_violation(check(log), 19, "not a switch reason");
}

std::vector<audit::Event> roaming_log(std::initializer_list<int64_t> switch_times) {
    std::vector<audit::Event> log = {
        created(0, kB, kB1),
        change(0, kB, 1, S::Birth, S::Attached, R::handshake_ok),
    };
    uint64_t v = 1;
    bool on_first = true;
    for (int64_t ts : switch_times) {
        log.push_back(
            switched(ts, kB, ++v, on_first ? kB1 : kB2, on_first ? kB2 : kB1, R::legacy_roaming));
        on_first = !on_first;
    }
    return log;
}

TEST(AuditCheck, SwitchRateAboveTheLimitFailsOnTheExcessSwitch) {
    const AuditCheckLimits limits{
        .max_switches_per_min = 3, .switch_cooldown_ms = 1000, .by_policy_version = {}};
    // Lines 3..6: the fourth switch within 60 s.
    expect_first_violation(check(roaming_log({10'000, 20'000, 30'000, 40'000}), limits), 6,
                           "switch rate exceeded: 4 switches within 60000 ms");
}

TEST(AuditCheck, EachEventIsHeldToTheBoundsOfItsOwnPolicyVersion) {
    // The log's events carry "builtin-1"; the fallback (another profile's 3 a minute) would
    // flag its fourth switch, but builtin-1 allows 8.
    AuditCheckLimits limits{.max_switches_per_min = 3,
                            .switch_cooldown_ms = 1000,
                            .by_policy_version = {{"builtin-1", {8, 1000}}}};
    const auto log = roaming_log({10'000, 20'000, 30'000, 40'000});
    EXPECT_TRUE(check(log, limits).ok()) << dump_report(check(log, limits));
    // Under a version the caller gave no bounds for, the fallback holds.
    limits.by_policy_version = {{"strict-2", {8, 1000}}};
    expect_first_violation(check(log, limits), 6,
                           "switch rate exceeded: 4 switches within 60000 ms");
}

TEST(AuditCheck, SwitchRateWindowSlides) {
    const AuditCheckLimits limits{
        .max_switches_per_min = 3, .switch_cooldown_ms = 1000, .by_policy_version = {}};
    // The fourth comes exactly 60 s after the first, which has then left the window; the fifth
    // sees only the third and fourth.
    const auto r = check(roaming_log({10'000, 20'000, 30'000, 70'000, 81'000}), limits);
    EXPECT_TRUE(r.ok()) << dump_report(r);
}

TEST(AuditCheck, SwitchWithinCooldownFails) {
    auto log = valid_log();
    log[18].ts_ms = 7000;  // line 19: 1000 ms after line 12's switch, default cooldown 1500
    expect_first_violation(check(log), 19,
                           "switch cooldown violated: 1000 ms after the switch "
                           "at line 12");
}

TEST(AuditCheck, CooldownUsesTheGivenLimits) {
    auto log = valid_log();
    log[18].ts_ms = 7000;
    const auto r = check(
        log, {.max_switches_per_min = 8, .switch_cooldown_ms = 1000, .by_policy_version = {}});
    EXPECT_TRUE(r.ok()) << dump_report(r);
}

TEST(AuditCheck, LimitsComeFromThePolicy) {
    Policy p;
    p.switching.max_switches_per_min = 2;
    p.switching.switch_cooldown_ms = 10;
    const auto l = AuditCheckLimits::from_policy(p);
    EXPECT_EQ(l.max_switches_per_min, 2u);
    EXPECT_EQ(l.switch_cooldown_ms, 10);
    const AuditCheckLimits defaults;
    EXPECT_EQ(defaults.max_switches_per_min, Policy{}.switching.max_switches_per_min);
    EXPECT_EQ(defaults.switch_cooldown_ms, Policy{}.switching.switch_cooldown_ms);
}

TEST(AuditCheck, PolicyDenialWithoutItsPolicyEventFails) {
    auto log = valid_log();
    log.erase(log.begin() + 13);  // line 14's PolicyEvent; B's next event is now on line 18
    expect_first_violation(check(log), 18,
                           "TransportSwitchDenied policy_denied (line 13) must be followed by a "
                           "PolicyEvent");
}

TEST(AuditCheck, LogEndingBeforeThePolicyEventOfADenialFails) {
    auto log = valid_log();
    log.resize(13);
    expect_first_violation(check(log), 13, "log ends before the PolicyEvent");
}

TEST(AuditCheck, ReattachResultStatusMustMatchItsReason) {
    auto log = valid_log();
    log[9] = ev(5300, kA, 5, audit::ReattachResult{true, R::policy_denied});  // line 10
    expect_first_violation(check(log), 10, "ReattachResult SUCCESS with reason policy_denied");
    auto denied = valid_log();
    denied[17] = ev(9500, kA, 6, audit::ReattachResult{false, R::reattach_success});  // line 18
    expect_first_violation(check(denied), 18, "ReattachResult DENIED with reason reattach_success");
}

TEST(AuditCheck, SecurityEventMustNameASecurityViolation) {
    auto log = valid_log();
    log[14] = ev(7000, 0, 0, audit::SecurityEvent{R::handshake_ok, "192.0.2.1:999"});  // 15
    expect_first_violation(check(log), 15, "SecurityEvent violation handshake_ok is not one of");
}

TEST(AuditCheck, EventAfterTerminatedFails) {
    auto log = valid_log();
    log.insert(log.begin() + 17, ev(9100, kA, 6, audit::KeyRotated{3}));  // line 18
    expect_first_violation(check(log), 18, "KeyRotated after TERMINATED at line 16");
}

TEST(AuditCheck, LateDenialsAfterTerminatedPass) {
    auto log = valid_log();
    log.push_back(ev(9900, kA, 6, audit::TransportSwitchDenied{kA1, R::session_expired}));
    log.push_back(ev(9900, kA, 6, audit::SecurityEvent{R::bad_proof, "192.0.2.1:999"}));
    const auto r = check(log);
    EXPECT_TRUE(r.ok()) << dump_report(r);
}

TEST(AuditCheck, TerminationWithoutSessionTerminatedFails) {
    auto log = valid_log();
    log.erase(log.begin() + 16);  // line 17's SessionTerminated; line 17 is now the denial
    expect_first_violation(check(log), 17,
                           "SessionStateChange to TERMINATED (line 16) must be followed by "
                           "SessionTerminated");
}

TEST(AuditCheck, LogEndingBeforeSessionTerminatedFails) {
    auto log = valid_log();
    log.resize(16);
    expect_first_violation(check(log), 16, "log ends before SessionTerminated");
}

TEST(AuditCheck, SessionTerminatedWithADifferentReasonFails) {
    auto log = valid_log();
    log[16] = ev(9000, kA, 6, audit::SessionTerminated{R::key_expired, 8000, 0, 1});
    expect_first_violation(check(log), 17, "differs from the transition's explicit_termination");
}

TEST(AuditCheck, SessionIdReusedAfterTerminationFails) {
    auto log = valid_log();
    log.push_back(created(10'000, kA, kA1));  // line 20
    expect_first_violation(check(log), 20, "session_id reused after termination at line 16");
}

TEST(AuditCheck, SecondSessionCreatedForALiveSessionFails) {
    auto log = valid_log();
    log.push_back(created(10'000, kB, kB1));
    expect_first_violation(check(log), 20, "SessionCreated for a live session (created at line 3)");
}

TEST(AuditCheck, SessionCreatedMustCarryVersionZero) {
    auto log = valid_log();
    log[2].state_version = 1;
    expect_first_violation(check(log), 3, "SessionCreated must carry state_version 0, got 1");
}

TEST(AuditCheck, SessionCreatedMustBeFollowedByHandshakeOk) {
    auto log = valid_log();
    log.insert(log.begin() + 1, ev(1000, kA, 0, audit::KeyRotated{1}));  // line 2
    expect_first_violation(check(log), 2,
                           "SessionCreated (line 1) must be followed by SessionStateChange "
                           "BIRTH->ATTACHED handshake_ok");
}

TEST(AuditCheck, EventForAnUncreatedSessionFailsOnce) {
    auto log = valid_log();
    log.push_back(ev(9999, 0xdead, 3, audit::KeyRotated{1}));  // line 20
    log.push_back(ev(9999, 0xdead, 3, audit::KeyRotated{2}));  // line 21
    const auto r = check(log);
    expect_first_violation(r, 20,
                           "session 000000000000dead: KeyRotated before the session's "
                           "SessionCreated");
    EXPECT_EQ(r.violations.size(), 1u) << dump_report(r);
}

TEST(AuditCheck, StateChangeWithoutASessionIdFails) {
    auto log = valid_log();
    log.push_back(change(9999, 0, 1, S::Birth, S::Attached, R::handshake_ok));
    expect_first_violation(check(log), 20, "needs a session");
}

TEST(AuditCheck, UnparseableLineFailsOnThatLine) {
    auto lines = audit::render_lines(valid_log(), "gw-1");
    lines[6] = R"({"ts_ms": 5200, "event_type": "ReattachAtt)";
    const auto r = check_lines(lines);
    expect_first_violation(r, 7, "not valid JSON");
    EXPECT_EQ(r.events, 18u);
}

TEST(AuditCheck, MissingFieldFailsNamingTheField) {
    auto lines = audit::render_lines(valid_log(), "gw-1");
    auto j = nlohmann::json::parse(lines[4]);
    j.erase("new_state");
    lines[4] = j.dump();
    expect_first_violation(check_lines(lines), 5, "new_state: missing");
}

TEST(AuditCheck, EmptyLineFails) {
    auto lines = audit::render_lines(valid_log(), "gw-1");
    lines.insert(lines.begin() + 3, "");
    expect_first_violation(check_lines(lines), 4, "empty line");
}

TEST(AuditCheck, ViolationsAreOrderedByLine) {
    auto log = valid_log();
    log.resize(16);            // unmet SessionTerminated, reported at line 16
    log[2].state_version = 1;  // line 3
    log[4] = change(5000, kA, 2, S::Attached, S::Volatile, R::health_recovered);  // line 5
    const auto r = check(log);
    ASSERT_GE(r.violations.size(), 3u) << dump_report(r);
    for (size_t i = 1; i < r.violations.size(); ++i)
        EXPECT_LE(r.violations[i - 1].line, r.violations[i].line);
}

}  // namespace
}  // namespace jg
