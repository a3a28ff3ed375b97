// The seven scenarios, plus a path-improvement switch (tests/scenarios/*.yaml), run on the
// virtual clock: each file's own expectations must hold, and the state-change sequence and
// scenario-specific facts are asserted here as well so that editing a file cannot quietly weaken
// its test.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "session/simulation.hpp"
#include "session/switch_gate.hpp"
#include "session_fixture.hpp"

#ifndef JG_SCENARIO_DIR
#error "JG_SCENARIO_DIR must name tests/scenarios"
#endif

namespace jg {
namespace {

using S = SessionState;
using R = Reason;

struct Ran {
    ScenarioScript script;
    Timeline timeline;
};

Ran run_file(const std::string &file) {
    const std::string path = std::string(JG_SCENARIO_DIR) + "/" + file;
    auto script = load_scenario_file(path);
    if (!script.ok()) {
        ADD_FAILURE() << script.error().message();
        return {};
    }
    auto tl = run_scenario(*script);
    if (!tl.ok()) {
        ADD_FAILURE() << tl.error().message();
        return {};
    }
    const Status st = check_expectations(*script, *tl);
    EXPECT_TRUE(st.ok()) << st.error().message() << "\n" << format_timeline(*tl);
    for (const audit::Event &e : tl->events) {
        EXPECT_EQ(e.session_id, script->session_id) << "one session, one id, throughout";
        EXPECT_EQ(e.policy_version, script->policy.version);
    }
    return {std::move(script.value()), std::move(tl.value())};
}

std::vector<StateChangeRow> rows(std::initializer_list<std::tuple<int64_t, S, S, R>> list) {
    std::vector<StateChangeRow> out;
    for (const auto &[t, a, b, r] : list)
        out.push_back({t, a, b, r});
    return out;
}

template <class T>
std::vector<std::pair<int64_t, const T *>> find_all(const Timeline &tl) {
    std::vector<std::pair<int64_t, const T *>> out;
    for (const audit::Event &e : tl.events)
        if (const T *p = std::get_if<T>(&e.payload))
            out.push_back({e.ts_ms, p});
    return out;
}

TEST(Scenario, TransportDeathReattachesOnTheCandidateWithTheSameSession) {
    const Ran r = run_file("01_transport_death.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {5000, S::Attached, S::Volatile, R::heartbeat_timeout},
                    {5600, S::Volatile, S::Recovering, R::reattach_requested},
                    {5650, S::Recovering, S::Attached, R::reattach_success}}));
    const auto sw = find_all<audit::TransportSwitch>(r.timeline);
    ASSERT_EQ(sw.size(), 1u);
    EXPECT_EQ(sw[0].second->new_transport, test::addr("203.0.113.9:40000"));
    EXPECT_EQ(sw[0].second->switch_latency_ms, 650) << "from VOLATILE entry to the switch";
    EXPECT_EQ(r.timeline.final_binding, test::addr("203.0.113.9:40000"));
}

TEST(Scenario, LossSpikeIsVolatileOnlyAboveTheThresholdAndRecoversAfterTheStabilityWindow) {
    const Ran r = run_file("02_loss_spike.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {3750, S::Attached, S::Volatile, R::loss_threshold_exceeded},
                    {8250, S::Volatile, S::Attached, R::health_recovered}}));
    const auto pe = find_all<audit::PolicyEvent>(r.timeline);
    ASSERT_EQ(pe.size(), 1u);
    EXPECT_EQ(pe[0].second->policy_name, "volatility.loss_volatile_threshold");
    EXPECT_DOUBLE_EQ(pe[0].second->threshold_value, 0.10);
    EXPECT_DOUBLE_EQ(pe[0].second->observed_value, 0.12);
    EXPECT_TRUE(find_all<audit::SessionTerminated>(r.timeline).empty());
}

TEST(Scenario, NatRebindingIsValidatedThenSwitched) {
    const Ran r = run_file("03_nat_rebinding.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {2000, S::Attached, S::Volatile, R::address_change_observed},
                    {2000, S::Volatile, S::Recovering, R::path_validation_started},
                    {2040, S::Recovering, S::Attached, R::reattach_success}}));
    const auto attempt = find_all<audit::ReattachAttempt>(r.timeline);
    ASSERT_EQ(attempt.size(), 1u);
    EXPECT_EQ(attempt[0].second->candidate_transport, test::addr("198.51.100.7:61000"));
    const auto sw = find_all<audit::TransportSwitch>(r.timeline);
    ASSERT_EQ(sw.size(), 1u);
    EXPECT_EQ(sw[0].first, 2040);
    EXPECT_EQ(r.timeline.final_binding, test::addr("198.51.100.7:61000"));
}

TEST(Scenario, FlappingNeverExceedsTheRateNorTheCooldownAndAuditsEveryDenial) {
    const Ran r = run_file("04_flapping.yaml");
    const Policy &p = r.script.policy;
    const auto sw = find_all<audit::TransportSwitch>(r.timeline);
    std::vector<int64_t> times;
    for (const auto &[t, s] : sw)
        times.push_back(t);
    EXPECT_EQ(times, (std::vector<int64_t>{1000, 3000, 5000, 7000}));
    for (size_t i = 1; i < times.size(); ++i)
        EXPECT_GE(times[i] - times[i - 1], p.switching.switch_cooldown_ms);
    for (size_t i = 0; i < times.size(); ++i) {
        const auto in_window = std::count_if(times.begin(), times.end(), [&](int64_t t) {
            return t <= times[i] && times[i] - t < kSwitchRateWindowMs;
        });
        EXPECT_LE(static_cast<uint32_t>(in_window), p.switching.max_switches_per_min);
    }
    // Every denial is a TransportSwitchDenied immediately followed by its PolicyEvent.
    size_t denials = 0, cooldown = 0, rate = 0;
    const auto &ev = r.timeline.events;
    for (size_t i = 0; i < ev.size(); ++i) {
        const auto *d = std::get_if<audit::TransportSwitchDenied>(&ev[i].payload);
        if (d == nullptr)
            continue;
        ++denials;
        EXPECT_EQ(d->reason_code, R::policy_denied);
        ASSERT_LT(i + 1, ev.size());
        const auto *pe = std::get_if<audit::PolicyEvent>(&ev[i + 1].payload);
        ASSERT_NE(pe, nullptr);
        cooldown += pe->policy_name == "switching.switch_cooldown_ms";
        rate += pe->policy_name == "switching.max_switches_per_min";
    }
    EXPECT_EQ(denials, cooldown + rate);
    // The 400 ms and 1200 ms followers of each of the four switches.
    EXPECT_EQ(cooldown, 8u);
    EXPECT_GT(rate, 20u);
    EXPECT_EQ(state_changes(r.timeline).size(), 1u) << "roaming is not a state change";
}

TEST(Scenario, RecoveryAfterDegradationByHealthAndByReattach) {
    const Ran r = run_file("05_recovery_after_degradation.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {2250, S::Attached, S::Volatile, R::loss_threshold_exceeded},
                    {6300, S::Volatile, S::Degraded, R::volatile_persisted},
                    {11250, S::Degraded, S::Attached, R::health_recovered},
                    {13250, S::Attached, S::Volatile, R::loss_threshold_exceeded},
                    {17300, S::Volatile, S::Degraded, R::volatile_persisted},
                    {18000, S::Degraded, S::Recovering, R::reattach_requested},
                    {18060, S::Recovering, S::Attached, R::reattach_success}}));
}

TEST(Scenario, ReplayedReattachIsDeniedWithoutTouchingBindingOrState) {
    const Ran r = run_file("06_replayed_reattach.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {5000, S::Attached, S::Volatile, R::heartbeat_timeout},
                    {5600, S::Volatile, S::Recovering, R::reattach_requested},
                    {5650, S::Recovering, S::Attached, R::reattach_success},
                    {10000, S::Attached, S::Volatile, R::heartbeat_timeout}}));
    // Two replays of nonce 7, then a fresh nonce and client time on a counter already seen.
    const auto sec = find_all<audit::SecurityEvent>(r.timeline);
    ASSERT_EQ(sec.size(), 3u);
    for (const auto &[t, s] : sec) {
        EXPECT_EQ(s->violation, R::replay_detected);
        EXPECT_EQ(s->source, "192.0.2.66:5555");
    }
    EXPECT_EQ(sec[0].first, 5620);
    EXPECT_EQ(sec[1].first, 12000);
    EXPECT_EQ(sec[2].first, 12200) << "a replayed transport counter alone is replay_detected";
    std::vector<std::tuple<int64_t, bool, R>> results;
    for (const auto &[t, res] : find_all<audit::ReattachResult>(r.timeline))
        results.emplace_back(t, res->success, res->reason_code);
    EXPECT_EQ(results,
              (std::vector<std::tuple<int64_t, bool, R>>{{5620, false, R::replay_detected},
                                                         {5650, true, R::reattach_success},
                                                         {12000, false, R::replay_detected},
                                                         {12100, false, R::stale_request},
                                                         {12200, false, R::replay_detected}}));
    // A denial never bumps state_version: every later event carries the second VOLATILE entry's.
    const auto entered =
        std::find_if(r.timeline.events.begin(), r.timeline.events.end(), [](const audit::Event &e) {
            return e.ts_ms == 10000 && std::holds_alternative<audit::SessionStateChange>(e.payload);
        });
    ASSERT_NE(entered, r.timeline.events.end());
    for (auto it = entered; it != r.timeline.events.end(); ++it)
        EXPECT_EQ(it->state_version, entered->state_version) << "at " << it->ts_ms << " ms";
    const auto sw = find_all<audit::TransportSwitch>(r.timeline);
    ASSERT_EQ(sw.size(), 1u) << "only the genuine request moved the binding";
    EXPECT_EQ(sw[0].second->new_transport, test::addr("203.0.113.9:40000"));
    const auto attempts = find_all<audit::ReattachAttempt>(r.timeline);
    ASSERT_EQ(attempts.size(), 1u) << "a replay never starts a path validation";
    EXPECT_EQ(r.timeline.final_binding, test::addr("203.0.113.9:40000"));
}

TEST(Scenario, LifetimeExpiryTerminatesAndLaterReattachIsDenied) {
    const Ran r = run_file("07_lifetime_expiry.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {10000, S::Attached, S::Terminated, R::session_lifetime_exceeded}}));
    const auto term = find_all<audit::SessionTerminated>(r.timeline);
    ASSERT_EQ(term.size(), 1u);
    EXPECT_EQ(term[0].second->session_age_ms, 10000);
    const auto res = find_all<audit::ReattachResult>(r.timeline);
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0].first, 11000);
    EXPECT_FALSE(res[0].second->success);
    EXPECT_GT(r.timeline.rejected_events, 0u) << "heartbeats after the end are rejected";
}

TEST(Scenario, TransportLossBeyondTheTtlTerminates) {
    const Ran r = run_file("07_transport_ttl.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {4000, S::Attached, S::Volatile, R::heartbeat_timeout},
                    {6000, S::Volatile, S::Degraded, R::volatile_persisted},
                    {8000, S::Degraded, S::Terminated, R::transport_ttl_exceeded}}));
    const auto term = find_all<audit::SessionTerminated>(r.timeline);
    ASSERT_EQ(term.size(), 1u);
    EXPECT_EQ(term[0].second->transportless_age_ms, 6000);
}

TEST(Scenario, PathImprovementMovesOnlyForACandidateBetterByTheFactor) {
    const Ran r = run_file("08_path_improvement.yaml");
    EXPECT_EQ(state_changes(r.timeline),
              rows({{0, S::Birth, S::Attached, R::handshake_ok},
                    {2250, S::Attached, S::Volatile, R::latency_threshold_exceeded},
                    {3000, S::Volatile, S::Recovering, R::path_validation_started},
                    {3040, S::Recovering, S::Attached, R::reattach_success}}));
    const auto attempts = find_all<audit::ReattachAttempt>(r.timeline);
    ASSERT_EQ(attempts.size(), 1u) << "the 1.05x candidate at 2500 was not validated";
    EXPECT_EQ(attempts[0].first, 3000);
    const auto sw = find_all<audit::TransportSwitch>(r.timeline);
    ASSERT_EQ(sw.size(), 1u);
    EXPECT_EQ(sw[0].second->reason_code, R::path_improvement);
    EXPECT_DOUBLE_EQ(sw[0].second->rtt_ms, 400.0) << "the switch records the path it left";
}

// ---- the script format itself ----

TEST(ScenarioScript, ErrorsNameTheFileAndTheYamlPath) {
    const auto missing = load_scenario_text(
        "name: x\nsteps:\n  - {at_ms: 0, event: handshake}\n  - {at_ms: 5, event: "
        "reattach_request, candidate: 203.0.113.9:1}\n",
        "x.yaml");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().where, "x.yaml: steps[1].nonce");

    const auto bad_key = load_scenario_text(
        "name: x\npolicy: {switching: {max_switches: 3}}\nsteps: []\n", "x.yaml");
    ASSERT_FALSE(bad_key.ok());
    EXPECT_EQ(bad_key.error().where, "x.yaml: policy.switching.max_switches");

    const auto bad_bound = load_scenario_text(
        "name: x\npolicy: {volatility.loss_volatile_threshold: 1.5}\nsteps: []\n", "x.yaml");
    ASSERT_FALSE(bad_bound.ok());
    EXPECT_EQ(bad_bound.error().where, "x.yaml: policy.volatility.loss_volatile_threshold");

    const auto bad_event =
        load_scenario_text("name: x\nsteps:\n  - {at_ms: 0, event: teleport}\n", "x.yaml");
    ASSERT_FALSE(bad_event.ok());
    EXPECT_EQ(bad_event.error().where, "x.yaml: steps[0].event");

    const auto not_yaml = load_scenario_text("name: [unclosed", "x.yaml");
    ASSERT_FALSE(not_yaml.ok());
    EXPECT_EQ(not_yaml.error().where, "x.yaml");

    EXPECT_FALSE(load_scenario_file("/nonexistent/scenario.yaml").ok());
}

// Times a script could overflow, or run for ever with, are refused by name before any step runs.
TEST(ScenarioScript, TimesAndRepeatsOutsideTheRunLimitsAreRefused) {
    const auto where = [](const std::string &yaml) {
        const auto sc = load_scenario_text("name: x\n" + yaml, "x.yaml");
        return sc.ok() ? std::string("accepted") : sc.error().where;
    };
    EXPECT_EQ(where("steps:\n  - {at_ms: 0, event: tick, every_ms: 4611686018427387904, "
                    "until_ms: 9223372036854775807}\n"),
              "x.yaml: steps[0].every_ms");
    EXPECT_EQ(where("steps:\n  - {at_ms: 0, event: tick, every_ms: 1, until_ms: 2000000}\n"),
              "x.yaml: steps[0].every_ms")
        << "two million repeats of one step";
    EXPECT_EQ(where("end_ms: 9223372036854775807\nsteps: []\n"), "x.yaml: end_ms");
    EXPECT_EQ(where("tick_ms: 1\nend_ms: 1000000000\nsteps: []\n"), "x.yaml: tick_ms")
        << "a billion timer ticks";
    EXPECT_EQ(where("steps:\n  - {at_ms: -5, event: handshake}\n"), "x.yaml: steps[0].at_ms");
    EXPECT_EQ(where("session_id: -1\nsteps: []\n"), "x.yaml: session_id");
    EXPECT_EQ(where("seed: ' 7'\nsteps: []\n"), "x.yaml: seed");
    EXPECT_EQ(where("seed: 18446744073709551616\nsteps: []\n"), "x.yaml: seed");
    EXPECT_EQ(where("session_id: 0x1f\nseed: 010\nsteps: []\n"), "accepted");
    const auto sc = load_scenario_text("name: x\nsession_id: 0x1f\nseed: 010\nsteps: []\n", "");
    ASSERT_TRUE(sc.ok());
    EXPECT_EQ(sc->session_id, 31u);
    EXPECT_EQ(sc->seed, 10u) << "decimal, not octal";

    ScenarioScript built;
    built.end_ms = std::numeric_limits<int64_t>::max();
    const auto run = run_scenario(built);
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().where, ": end_ms");
}

TEST(ScenarioScript, RepeatsExpandAndStepsRunInTimeOrder) {
    const auto sc = load_scenario_text(
        "name: x\nsteps:\n  - {at_ms: 100, every_ms: 50, until_ms: 200, event: heartbeat}\n"
        "  - {at_ms: 0, event: handshake}\n",
        "");
    ASSERT_TRUE(sc.ok()) << sc.error().message();
    ASSERT_EQ(sc->steps.size(), 4u);
    EXPECT_EQ(sc->steps[0].at_ms, 0);
    EXPECT_EQ(sc->steps[3].at_ms, 200);
    EXPECT_EQ(sc->end_ms, 1200);
}

TEST(ScenarioScript, MismatchedExpectationIsReportedWithWhatWasSeen) {
    auto sc = load_scenario_text(
        "name: x\nsteps:\n  - {at_ms: 0, event: handshake}\n"
        "expect:\n  - [SessionStateChange, BIRTH, ATTACHED, health_recovered]\n",
        "x.yaml");
    ASSERT_TRUE(sc.ok()) << sc.error().message();
    const auto tl = run_scenario(*sc);
    ASSERT_TRUE(tl.ok());
    const Status st = check_expectations(*sc, *tl);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().where, "x.yaml: expect[0]");
    EXPECT_NE(st.error().what.find("handshake_ok"), std::string::npos);
}

TEST(ScenarioScript, TimelineFormatsOneLinePerEventAndTheFinalState) {
    const auto sc = load_scenario_text(
        "name: x\nsteps:\n  - {at_ms: 0, event: handshake}\n  - {at_ms: 10, event: terminate}\n",
        "");
    ASSERT_TRUE(sc.ok());
    const auto tl = run_scenario(*sc);
    ASSERT_TRUE(tl.ok());
    const std::string text = format_timeline(*tl);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(tl->events.size() + 1));
    EXPECT_NE(text.find("BIRTH -> ATTACHED  handshake_ok"), std::string::npos);
    EXPECT_NE(text.find("ATTACHED -> TERMINATED  explicit_termination"), std::string::npos);
    EXPECT_NE(text.find("final: TERMINATED"), std::string::npos);
}

}  // namespace
}  // namespace jg
