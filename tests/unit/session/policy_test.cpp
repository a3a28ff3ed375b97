// Policy validation names the offending key for every bound; profiles and live reload.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "session/policy_set.hpp"
#include "session_fixture.hpp"

namespace jg {
namespace {

using S = SessionState;

TEST(PolicyValidation, ContractDefaultsAreValid) {
    const Status st = validate_policy(Policy{});
    EXPECT_TRUE(st.ok()) << st.error().message();
}

struct BadValue {
    const char *key;
    std::function<void(Policy &)> spoil;
};

TEST(PolicyValidation, EveryBoundNamesItsKey) {
    const std::vector<BadValue> cases = {
        {"version", [](Policy &p) { p.version.clear(); }},
        {"session.max_lifetime_ms", [](Policy &p) { p.session.max_lifetime_ms = 0; }},
        {"session.transport_lost_ttl_ms", [](Policy &p) { p.session.transport_lost_ttl_ms = -1; }},
        {"volatility.heartbeat_interval_ms",
         [](Policy &p) { p.volatility.heartbeat_interval_ms = 9; }},
        {"volatility.heartbeat_interval_ms",
         [](Policy &p) {
             p.volatility.heartbeat_interval_ms = 60'001;
             p.volatility.heartbeat_volatile_ms = 120'000;
         }},
        {"volatility.heartbeat_volatile_ms",
         [](Policy &p) {
             p.volatility.heartbeat_volatile_ms = p.volatility.heartbeat_interval_ms;
         }},
        {"volatility.loss_window_ms", [](Policy &p) { p.volatility.loss_window_ms = 0; }},
        {"volatility.loss_volatile_threshold",
         [](Policy &p) { p.volatility.loss_volatile_threshold = 0.0; }},
        {"volatility.loss_volatile_threshold",
         [](Policy &p) { p.volatility.loss_volatile_threshold = 1.01; }},
        {"volatility.max_consecutive_drops",
         [](Policy &p) { p.volatility.max_consecutive_drops = 0; }},
        {"volatility.volatile_to_degraded_ms",
         [](Policy &p) { p.volatility.volatile_to_degraded_ms = 0; }},
        {"volatility.stability_window_ms", [](Policy &p) { p.volatility.stability_window_ms = 0; }},
        {"volatility.latency_volatile_threshold_ms",
         [](Policy &p) { p.volatility.latency_volatile_threshold_ms = 0; }},
        {"volatility.jitter_volatile_threshold_ms",
         [](Policy &p) { p.volatility.jitter_volatile_threshold_ms = -5; }},
        {"switching.switch_cooldown_ms", [](Policy &p) { p.switching.switch_cooldown_ms = -1; }},
        {"switching.recovery_window_ms", [](Policy &p) { p.switching.recovery_window_ms = 0; }},
        {"switching.switch_improvement_factor",
         [](Policy &p) { p.switching.switch_improvement_factor = 0.99; }},
        {"security.reattach_proof_max_age_ms",
         [](Policy &p) { p.security.reattach_proof_max_age_ms = 0; }},
        {"security.replay_window_size", [](Policy &p) { p.security.replay_window_size = 15; }},
    };
    for (const BadValue &c : cases) {
        Policy p;
        c.spoil(p);
        const Status st = validate_policy(p);
        ASSERT_FALSE(st.ok()) << c.key;
        EXPECT_EQ(st.error().where, c.key);
        EXPECT_FALSE(st.error().what.empty());
    }
}

TEST(PolicyValidation, BoundaryValuesAreAccepted) {
    Policy p;
    p.volatility.heartbeat_interval_ms = 10;
    p.volatility.heartbeat_volatile_ms = 11;
    p.volatility.loss_volatile_threshold = 1.0;
    p.volatility.max_consecutive_drops = 1;
    p.switching.max_switches_per_min = 0;
    p.switching.switch_cooldown_ms = 0;
    p.switching.switch_improvement_factor = 1.0;
    p.security.replay_window_size = 16;
    EXPECT_TRUE(validate_policy(p).ok());
}

// "Unlimited" written as INT64_MAX would wrap `now + duration` into the past: every duration
// is capped at 30 days, and the error names the key and the cap.
TEST(PolicyValidation, DurationsAboveThirtyDaysAreRefusedByKey) {
    static constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
    const std::vector<BadValue> cases = {
        {"session.max_lifetime_ms", [](Policy &p) { p.session.max_lifetime_ms = kHuge; }},
        {"session.transport_lost_ttl_ms",
         [](Policy &p) { p.session.transport_lost_ttl_ms = kMaxPolicyDurationMs + 1; }},
        {"volatility.heartbeat_volatile_ms",
         [](Policy &p) { p.volatility.heartbeat_volatile_ms = kHuge; }},
        {"volatility.loss_window_ms", [](Policy &p) { p.volatility.loss_window_ms = kHuge; }},
        {"volatility.volatile_to_degraded_ms",
         [](Policy &p) { p.volatility.volatile_to_degraded_ms = kHuge; }},
        {"volatility.stability_window_ms",
         [](Policy &p) { p.volatility.stability_window_ms = kHuge; }},
        {"volatility.latency_volatile_threshold_ms",
         [](Policy &p) { p.volatility.latency_volatile_threshold_ms = kHuge; }},
        {"volatility.jitter_volatile_threshold_ms",
         [](Policy &p) { p.volatility.jitter_volatile_threshold_ms = kHuge; }},
        {"switching.switch_cooldown_ms", [](Policy &p) { p.switching.switch_cooldown_ms = kHuge; }},
        {"switching.recovery_window_ms", [](Policy &p) { p.switching.recovery_window_ms = kHuge; }},
        {"security.reattach_proof_max_age_ms",
         [](Policy &p) { p.security.reattach_proof_max_age_ms = kHuge; }},
    };
    for (const BadValue &c : cases) {
        Policy p;
        c.spoil(p);
        const Status st = validate_policy(p);
        ASSERT_FALSE(st.ok()) << c.key;
        EXPECT_EQ(st.error().where, c.key);
        EXPECT_NE(st.error().what.find("must be at most 2592000000 (30 days)"), std::string::npos)
            << st.error().what;
    }
    Policy p;
    p.session.max_lifetime_ms = kMaxPolicyDurationMs;
    p.switching.recovery_window_ms = kMaxPolicyDurationMs;
    EXPECT_TRUE(validate_policy(p).ok());
}

TEST(PolicyValidation, RequiredKeysAreTheContractsSix) {
    EXPECT_EQ(std::size(kRequiredPolicyKeys), 6u);
}

Policy named(std::string name, std::string version = "v1") {
    Policy p;
    p.name = std::move(name);
    p.version = std::move(version);
    return p;
}

TEST(PolicySet, LooksProfilesUpByNameAndFallsBackToTheDefault) {
    Policy mobile = named("mobile");
    mobile.switching.max_switches_per_min = 20;
    auto set = PolicySet::make({named("default"), mobile}, "default");
    ASSERT_TRUE(set.ok()) << set.error().message();
    EXPECT_EQ(set->size(), 2u);
    EXPECT_EQ(set->lookup("mobile").switching.max_switches_per_min, 20u);
    EXPECT_EQ(set->lookup("gone").name, "default");
    EXPECT_EQ(set->find("gone"), nullptr);
    EXPECT_EQ(set->names(), (std::vector<std::string>{"default", "mobile"}));
}

TEST(PolicySet, InvalidProfileIsNamedWithItsKey) {
    Policy bad = named("roaming");
    bad.switching.recovery_window_ms = 0;
    const auto set = PolicySet::make({named("default"), bad}, "default");
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().where, "roaming.switching.recovery_window_ms");
}

TEST(PolicySet, RejectsDuplicatesAndAMissingDefault) {
    EXPECT_FALSE(PolicySet::make({named("a"), named("a")}, "a").ok());
    const auto missing = PolicySet::make({named("a")}, "b");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().where, "b");
}

TEST(PolicySet, BuiltinHoldsTheContractDefaults) {
    EXPECT_EQ(PolicySet::builtin().default_policy(), Policy{});
}

TEST(LivePolicies, ReloadAppliesAtTheNextStepAndKeepsSessionHistory) {
    Policy slow = named("default", "v1");
    slow.volatility.volatile_to_degraded_ms = 60'000;
    LivePolicies live(PolicySet::make({slow}, "default").value());

    test::SessionDriver d;
    d.policy = live.lookup(d.s.profile);
    d.to_volatile();
    ReattachRequest denied = d.reattach(test::kHome);  // authenticated denial: history grows
    d.after(1, denied);
    d.after(1'000, TimerTick{});
    ASSERT_EQ(d.s.state, S::Volatile);
    const SessionRecord before = d.s;

    Policy fast = named("default", "v2");
    fast.volatility.volatile_to_degraded_ms = 1'500;
    live.reload(PolicySet::make({fast}, "default").value());
    EXPECT_EQ(live.generation(), 2u);

    // The reload itself touches no session.
    EXPECT_EQ(d.s.state_version, before.state_version);
    EXPECT_EQ(d.s.counters.reattach_denied, 1u);
    EXPECT_EQ(d.s.nonces.size(), 1u);
    EXPECT_EQ(d.s.state_entered_at_ms, before.state_entered_at_ms);

    // The next step reads the new profile: 1.5 s in VOLATILE is now too long.
    d.policy = live.lookup(d.s.profile);
    const StepResult &r = d.after(500, TimerTick{});
    EXPECT_EQ(d.s.state, S::Degraded);
    ASSERT_FALSE(r.audit.empty());
    EXPECT_EQ(r.audit[0].policy_version, "v2");
    EXPECT_EQ(test::changes(r).back().reason_code, Reason::volatile_persisted);
    EXPECT_EQ(d.s.state_version, before.state_version + 1);
    EXPECT_EQ(d.s.nonces.size(), 1u) << "the replay history survived the reload";
    d.after(1, denied);
    EXPECT_EQ(test::payloads<audit::ReattachResult>(d.last)[0]->reason_code,
              Reason::replay_detected);
}

TEST(LivePolicies, StricterPolicyReloadedDuringValidationDeniesTheSwitch) {
    test::SessionDriver d;
    d.to_recovering();  // the gate passed under the defaults
    d.policy.switching.max_switches_per_min = 0;
    d.policy.version = "v2";
    const StepResult &r = d.after(30, PathResponse{test::kCandidate, test::kChallenge});
    EXPECT_EQ(d.s.binding, test::kHome);
    EXPECT_TRUE(test::payloads<audit::TransportSwitch>(r).empty());
    const auto denied = test::payloads<audit::PolicyEvent>(r);
    ASSERT_EQ(denied.size(), 1u);
    EXPECT_EQ(denied[0]->policy_name, "switching.max_switches_per_min");
    EXPECT_EQ(test::payloads<audit::ReattachResult>(r)[0]->reason_code, Reason::policy_denied);
    EXPECT_EQ(d.s.counters.reattach_denied, 1u);
}

TEST(LivePolicies, SnapshotHeldByAReaderSurvivesAReload) {
    LivePolicies live(PolicySet::builtin());
    const auto held = live.current();
    Policy p = named("default", "v9");
    live.reload(PolicySet::make({p}, "default").value());
    EXPECT_EQ(held->default_policy().version, "builtin-1");
    EXPECT_EQ(live.current()->default_policy().version, "v9");
}

}  // namespace
}  // namespace jg
