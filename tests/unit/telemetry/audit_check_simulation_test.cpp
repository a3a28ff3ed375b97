// The state machine's own output, driven by scenario scripts, must satisfy the checker: the
// two sides of the audit contract are held to each other here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "session/simulation.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_json.hpp"

namespace jg {
namespace {

struct Checked {
    Timeline timeline;
    AuditCheckReport report;
};

Checked simulate_and_check(std::string_view yaml) {
    auto script = load_scenario_text(yaml, "test-scenario");
    EXPECT_TRUE(script.ok()) << script.error().message();
    auto timeline = run_scenario(*script);
    EXPECT_TRUE(timeline.ok()) << timeline.error().message();
    std::string log;
    for (const auto &line : audit::render_lines(timeline->events, "sim"))
        log += line + "\n";
    std::istringstream in(log);
    return {*timeline, audit_check(in, AuditCheckLimits::from_policy(script->policy))};
}

std::string dump(const AuditCheckReport &r) {
    std::string s;
    for (const auto &v : r.violations)
        s += std::to_string(v.line) + ": " + v.message + "\n";
    return s;
}

size_t count_type(const Timeline &t, std::string_view type) {
    size_t n = 0;
    for (const auto &e : t.events)
        n += audit::event_type_name(e.payload) == type ? 1 : 0;
    return n;
}

TEST(AuditCheckOfSimulation, ReattachAfterLossSatisfiesTheContract) {
    const auto c = simulate_and_check(R"(
name: reattach
session_id: 0xc3
transport: 198.51.100.7:51820
steps:
  - {at_ms: 0, event: handshake}
  - {at_ms: 500, event: heartbeat, every_ms: 500, until_ms: 3000}
  - {at_ms: 3000, event: health_sample, loss_ratio: 0.5, rtt_ms: 80}
  - {at_ms: 3200, event: reattach_request, candidate: "[2001:db8::7]:40001", nonce: 1}
  - {at_ms: 3300, event: path_response}
  - {at_ms: 6000, event: terminate, reason: explicit_termination}
)");
    EXPECT_TRUE(c.report.ok()) << dump(c.report);
    EXPECT_EQ(count_type(c.timeline, "TransportSwitch"), 1u);
    EXPECT_EQ(count_type(c.timeline, "SessionTerminated"), 1u);
}

TEST(AuditCheckOfSimulation, LegacyRoamingWithDeniedSwitchesSatisfiesTheContract) {
    // A stock peer hops between three addresses faster than the policy allows: the allowed
    // hops are switches, the rest are denials, and neither breaks the switch bounds.
    const auto c = simulate_and_check(R"(
name: legacy-hops
session_id: 0xd4
transport: 203.0.113.20:51820
policy:
  switching: {max_switches_per_min: 2, switch_cooldown_ms: 1500}
steps:
  - {at_ms: 0, event: handshake}
  - {at_ms: 500, event: heartbeat, every_ms: 500, until_ms: 62500}
  - {at_ms: 1000, event: address_change, from: 203.0.113.21:6000}
  - {at_ms: 1500, event: address_change, from: 203.0.113.22:6001}
  - {at_ms: 3000, event: address_change, from: 203.0.113.22:6001}
  - {at_ms: 5000, event: address_change, from: 203.0.113.20:51820}
  - {at_ms: 62000, event: address_change, from: 203.0.113.20:51820}
  - {at_ms: 63000, event: key_expired}
)");
    EXPECT_TRUE(c.report.ok()) << dump(c.report);
    EXPECT_EQ(count_type(c.timeline, "TransportSwitch"), 3u);
    EXPECT_EQ(count_type(c.timeline, "TransportSwitchDenied"), 2u);
    EXPECT_EQ(count_type(c.timeline, "PolicyEvent"), 2u);
    EXPECT_EQ(c.timeline.final_state, SessionState::Terminated);
}

TEST(AuditCheckOfSimulation, CheckerCatchesAStricterPolicyThanTheOneSimulated) {
    auto script = load_scenario_text(R"(
name: legacy-two-hops
session_id: 0xd5
transport: 203.0.113.20:51820
steps:
  - {at_ms: 0, event: handshake}
  - {at_ms: 1000, event: address_change, from: 203.0.113.21:6000}
  - {at_ms: 3000, event: address_change, from: 203.0.113.22:6001}
)",
                                     "test-scenario");
    ASSERT_TRUE(script.ok()) << script.error().message();
    auto timeline = run_scenario(*script);
    ASSERT_TRUE(timeline.ok());
    std::string log;
    for (const auto &line : audit::render_lines(timeline->events, "sim"))
        log += line + "\n";
    std::istringstream in(log);
    const auto r = audit_check(
        in, {.max_switches_per_min = 8, .switch_cooldown_ms = 5000, .by_policy_version = {}});
    ASSERT_EQ(r.violations.size(), 1u) << dump(r);
    EXPECT_THAT(r.violations[0].message, ::testing::HasSubstr("switch cooldown violated"));
}

}  // namespace
}  // namespace jg
