#include "control_fixture.hpp"

namespace jg::control::test {
namespace {

using SessionLifecycle = ControlTest;

PolicySet one_policy(const Policy &p) {
    auto set = PolicySet::make({p}, p.name);
    EXPECT_TRUE(set.ok());
    return std::move(set).value();
}

template <class T>
std::vector<T> payloads(const std::vector<audit::Event> &events) {
    std::vector<T> out;
    for (const auto &e : events)
        if (const auto *p = std::get_if<T>(&e.payload))
            out.push_back(*p);
    return out;
}

std::vector<audit::SessionStateChange> transitions(const std::vector<audit::Event> &events) {
    return payloads<audit::SessionStateChange>(events);
}

class JumpgateClientTest : public ControlTest {
  protected:
    void SetUp() override {
        start();
        ASSERT_TRUE(handshake(client));
        proto::Hello hello;
        hello.n_paths = 2;
        hello.path_ids = {1, 2};
        control_from(hello, kClientAddr);
    }
    SessionSummary session() { return dir->sessions_snapshot().at(0); }
    void tick_for(int64_t ms, int64_t step_ms = 250) {
        for (int64_t t = 0; t < ms; t += step_ms) {
            advance(step_ms);
            dir->tick(now);
        }
    }
};

// ---- legacy roaming (stock WireGuard peers) ----

TEST_F(SessionLifecycle, LegacyRoamingMovesTheBindingAndAuditsTheSwitch) {
    start();
    ASSERT_TRUE(handshake(client));
    advance(2'000);
    source_changed(kRoamAddr, kOtherMac);

    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_EQ(dp.binding_macs[slot()], kOtherMac);
    const auto snap = dir->sessions_snapshot().at(0);
    EXPECT_EQ(snap.binding, kRoamAddr);
    EXPECT_EQ(snap.state, SessionState::Attached);
    EXPECT_EQ(snap.state_version, 2u);
    EXPECT_TRUE(dp.control.empty()) << "a stock peer gets no control messages";

    const auto events = audit_events();
    const auto switches = payloads<audit::TransportSwitch>(events);
    ASSERT_EQ(switches.size(), 1u);
    EXPECT_EQ(switches[0].reason_code, Reason::legacy_roaming);
    EXPECT_EQ(switches[0].previous_transport, kClientAddr);
    EXPECT_EQ(switches[0].new_transport, kRoamAddr);
    // No VOLATILE episode: the switch followed its first packet at once, whatever the time
    // the session had spent ATTACHED (2 s here).
    EXPECT_EQ(switches[0].switch_latency_ms, 0);
    EXPECT_EQ(events.back().state_version, 2u);
}

TEST_F(SessionLifecycle, LegacyRoamingWithinTheCooldownIsDeniedAndTheBindingKept) {
    start();
    ASSERT_TRUE(handshake(client));
    advance(2'000);
    source_changed(kRoamAddr);
    advance(500);  // default switch_cooldown_ms is 1500
    const int writes = dp.binding_writes;
    source_changed(kRoamAddr2);

    EXPECT_EQ(dp.binding_writes, writes);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_EQ(dir->sessions_snapshot().at(0).counters.switches_denied, 1u);
    const auto events = audit_events();
    ASSERT_GE(events.size(), 2u);
    const auto *denied =
        std::get_if<audit::TransportSwitchDenied>(&events[events.size() - 2].payload);
    ASSERT_NE(denied, nullptr);
    EXPECT_EQ(denied->candidate_transport, kRoamAddr2);
    EXPECT_EQ(denied->reason_code, Reason::policy_denied);
    const auto *policy = std::get_if<audit::PolicyEvent>(&events.back().payload);
    ASSERT_NE(policy, nullptr);
    EXPECT_EQ(policy->policy_name, "switching.switch_cooldown_ms");
    EXPECT_EQ(policy->threshold_value, 1500.0);
    EXPECT_EQ(policy->observed_value, 500.0);
}

TEST_F(SessionLifecycle, LegacyRoamingAboveTheSwitchRateIsDenied) {
    Policy p;
    p.switching.max_switches_per_min = 2;
    p.switching.switch_cooldown_ms = 0;
    start({}, one_policy(p));
    ASSERT_TRUE(handshake(client));
    advance(100);
    source_changed(kRoamAddr);
    advance(100);
    source_changed(kRoamAddr2);
    advance(100);
    source_changed(kRoamAddr3);

    EXPECT_EQ(dp.bindings[slot()], kRoamAddr2);
    const auto events = audit_events();
    EXPECT_EQ(payloads<audit::TransportSwitch>(events).size(), 2u);
    const auto policy = payloads<audit::PolicyEvent>(events);
    ASSERT_EQ(policy.size(), 1u);
    EXPECT_EQ(policy[0].policy_name, "switching.max_switches_per_min");

    dir->tick(now);
    EXPECT_TRUE(dp.rearmed.empty());  // the gate is still closed
    advance(60'000);                  // the window slid past both switches
    traffic(1);
    dir->tick(now);
    // The worker reports an address once: it is told to report the peer's source again.
    EXPECT_EQ(dp.rearmed, std::vector<uint32_t>{slot()});
    source_changed(kRoamAddr3);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr3);
}

// A peer that roamed twice within the cooldown sends nothing to the address the binding kept,
// and its worker has reported the new one already: without a second report the binding
// would stay on a dead address. Once the cooldown ends the report is rearmed, once.
TEST_F(SessionLifecycle, LegacyRoamingDeniedByTheCooldownIsFollowedOnceTheGateOpens) {
    start();
    ASSERT_TRUE(handshake(client));
    advance(2'000);
    source_changed(kRoamAddr);
    advance(500);
    source_changed(kRoamAddr2);
    ASSERT_EQ(dp.bindings[slot()], kRoamAddr);
    for (int i = 0; i < 90; ++i) {  // 900 ms: still within the 1500 ms cooldown
        advance(10);
        dir->tick(now);
    }
    EXPECT_TRUE(dp.rearmed.empty());
    for (int i = 0; i < 20; ++i) {
        advance(10);
        dir->tick(now);
    }
    EXPECT_EQ(dp.rearmed, std::vector<uint32_t>{slot()});
    source_changed(kRoamAddr2);  // the worker's report of the peer's next packet
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr2);
    for (int i = 0; i < 300; ++i) {
        advance(10);
        dir->tick(now);
    }
    EXPECT_EQ(dp.rearmed.size(), 1u);
    EXPECT_TRUE(check_audit().ok());
}

TEST_F(SessionLifecycle, LegacyRoamingDeniedByPolicyNeverMovesTheBinding) {
    Policy p;
    p.transport.legacy_roaming = LegacyRoaming::Deny;
    start({}, one_policy(p));
    ASSERT_TRUE(handshake(client));
    advance(5'000);
    source_changed(kRoamAddr);
    EXPECT_EQ(dp.bindings[slot()], kClientAddr);
    const auto events = audit_events();
    EXPECT_TRUE(payloads<audit::TransportSwitch>(events).empty());
    ASSERT_EQ(payloads<audit::TransportSwitchDenied>(events).size(), 1u);
    EXPECT_EQ(payloads<audit::PolicyEvent>(events).at(0).policy_name, "transport.legacy_roaming");
    // Refused for good: the worker is not asked to report the source again (each report
    // would only be denied and audited once more).
    for (int i = 0; i < 500; ++i) {
        advance(10);
        dir->tick(now);
    }
    EXPECT_TRUE(dp.rearmed.empty());
}

TEST_F(SessionLifecycle, ReportsForAnUnknownSlotOrKeypairAreStale) {
    start();
    ASSERT_TRUE(handshake(client));
    UpEvent ev = session_event(UpKind::SourceChanged, kRoamAddr);
    ev.session_slot = 999;
    dir->handle(ev, now);
    ev = session_event(UpKind::SourceChanged, kRoamAddr);
    ev.local_index ^= 0x5a5a5a5a;
    dir->handle(ev, now);
    EXPECT_EQ(dir->stats().stale_events, 2u);
    EXPECT_EQ(dp.bindings[slot()], kClientAddr);
}

TEST_F(SessionLifecycle, NeighborReportsReachTheTablesAndStrayHandshakeRepliesAreCounted) {
    start();
    UpEvent ev;
    ev.kind = UpKind::NeighborLearned;
    ev.src = addr(0x0A000005, 0);
    ev.src_mac = kOtherMac;
    dir->handle(ev, now);
    EXPECT_EQ(dp.neighbors, 1);

    // The gateway never initiates, so a response or cookie reply answers nothing of ours.
    const std::array<uint8_t, proto::kResponseSize> response{2};
    ev.kind = UpKind::HandshakeResponse;
    ev.src = kClientAddr;
    ev.payload = response;
    dir->handle(ev, now);
    EXPECT_EQ(dir->stats().stale_events, 1u);
    EXPECT_TRUE(dp.raw.empty());
}

// ---- timers and health ----

TEST_F(SessionLifecycle, TrafficKeepsTheSessionAttached) {
    start();
    ASSERT_TRUE(handshake(client));
    for (int i = 0; i < 40; ++i) {
        advance(500);
        traffic(20);
        dir->tick(now);
    }
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Attached);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state_version, 1u);
    EXPECT_GT(dp.reclaims, 0);
}

TEST_F(SessionLifecycle, CounterGapsAboveTheLossThresholdMakeTheSessionVolatile) {
    start();
    ASSERT_TRUE(handshake(client));
    advance(250);
    traffic(10, 10);
    dir->tick(now);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Volatile);
    const auto t = transitions(audit_events());
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1].reason_code, Reason::loss_threshold_exceeded);
}

// The worker's gap count is net: late packets take back gaps it reported (reordering), and the
// loss window takes them back too instead of reading the drop as a wrapped-around loss.
TEST_F(SessionLifecycle, GapsFilledByLatePacketsAreTakenBackFromTheLossWindow) {
    start();
    ASSERT_TRUE(handshake(client));
    advance(500);    // a session at rest is sampled every 500 ms
    traffic(10, 2);  // 2 of 12: below the 0.20 threshold
    dir->tick(now);
    advance(500);
    traffic(2);  // both missing counters arrive late
    dp.slot_counters[slot()].counter_gaps -= 2;
    dir->tick(now);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Attached);
    advance(500);
    traffic(4, 3);  // 3 of 19 in the window; 5 of 21 had the late two stayed lost
    dir->tick(now);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Attached);
    advance(500);
    traffic(1, 2);  // 5 of 22: above the threshold, a real loss still counts
    dir->tick(now);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Volatile);
}

TEST_F(SessionLifecycle, DataPlaneReplaysAndForgeriesAreAuditedAtMostOncePerSecond) {
    start();
    ASSERT_TRUE(handshake(client));
    const uint32_t s = slot();
    advance(10);
    dir->tick(now);  // nothing rejected yet: nothing to report

    dp.slot_counters[s].replay_drops += 3;
    advance(10);
    dir->tick(now);
    // A flood inside the same second adds no line; the next second may add one.
    for (int i = 0; i < 50; ++i) {
        dp.slot_counters[s].replay_drops += 100;
        advance(10);
        dir->tick(now);
    }
    // A session at rest is sampled every loss_window_ms / 4 (500 ms): the first report came
    // with the sample at 510 ms, the one at 1,010 ms was inside its second.
    dp.slot_counters[s].replay_drops += 1;
    dp.slot_counters[s].auth_failures += 1;
    advance(1'100);
    dir->tick(now);

    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Attached);
    std::vector<Reason> seen;
    for (const auto &e : payloads<audit::SecurityEvent>(audit_events()))
        seen.push_back(e.violation);
    EXPECT_EQ(seen, (std::vector<Reason>{Reason::replay_detected, Reason::replay_detected,
                                         Reason::bad_proof}));
    const auto report = check_audit();
    for (const auto &v : report.violations)
        ADD_FAILURE() << "line " << v.line << ": " << v.message;
}

TEST_F(SessionLifecycle, StockPeerSilenceIsNotATransportLoss) {
    // A stock WireGuard peer without persistent keepalive is silent whenever its user is idle.
    start();
    ASSERT_TRUE(handshake(client));
    for (int i = 0; i < 60; ++i) {
        advance(1'000);
        dir->tick(now);
    }
    EXPECT_EQ(dir->live_sessions(), 1u);
    EXPECT_EQ(dir->sessions_snapshot().at(0).state, SessionState::Attached);
    EXPECT_EQ(transitions(audit_events()).size(), 1u) << "only BIRTH -> ATTACHED";
    EXPECT_TRUE(dp.retired.empty());
}

TEST_F(JumpgateClientTest, SilenceTerminatesTheSessionAfterTheTransportTtlAndRetiresIt) {
    const uint32_t s = slot();
    const uint64_t id = session().session_id;
    for (int i = 0; i < 16; ++i) {
        advance(1'000);
        dir->tick(now);
    }
    const auto summary = dir->find_session(id);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->state, SessionState::Terminated);
    EXPECT_EQ(dir->live_sessions(), 0u);
    ASSERT_EQ(dp.retired.size(), 1u);
    EXPECT_EQ(dp.retired[0], s);
    EXPECT_TRUE(dp.routes.empty());

    // The peer comes back: a new handshake makes a new session.
    advance(1'000);
    ASSERT_TRUE(handshake(client));
    EXPECT_EQ(dir->live_sessions(), 1u);
    EXPECT_EQ(dp.owners.size(), 2u);
    EXPECT_EQ(dp.routes.size(), 2u);

    const auto events = audit_events();
    const auto t = transitions(events);
    ASSERT_GE(t.size(), 4u);
    EXPECT_EQ(t[1].reason_code, Reason::heartbeat_timeout);
    const auto ended = payloads<audit::SessionTerminated>(events);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].reason_code, Reason::transport_ttl_exceeded);
    const auto created = payloads<audit::SessionCreated>(events);
    EXPECT_EQ(created.size(), 2u);
    EXPECT_NE(events.back().session_id, id);
}

TEST_F(JumpgateClientTest, SilenceIsJudgedOnTimeAlthoughSessionsAtRestAreSampledApart) {
    // Data arrives on the binding every tick for 3.24 s (the last packet falls between two
    // samples), then stops. Sessions at rest are
    // sampled every 500 ms, but a sample dates traffic by the binding's last packet and the
    // session is swept at its heartbeat deadline, so VOLATILE comes heartbeat_volatile_ms
    // (2,000) after the last packet, within a tick, not up to a sample interval later.
    auto &c = dp.slot_counters[slot()];
    for (int i = 0; i < 324; ++i) {
        advance(10);
        c.rx_packets += 1;
        c.rx_age_ms = 0;
        dir->tick(now);
    }
    const int64_t last_packet = now;
    int64_t volatile_at = kNever;
    for (int i = 0; i < 400 && volatile_at == kNever; ++i) {
        advance(10);
        c.rx_age_ms = now - last_packet;
        dir->tick(now);
        if (session().state == SessionState::Volatile)
            volatile_at = now;
    }
    ASSERT_NE(volatile_at, kNever);
    EXPECT_GE(volatile_at - last_packet, 2'000);
    EXPECT_LE(volatile_at - last_packet, 2'010);
    bool audited = false;
    for (const auto &e : audit_events())
        if (const auto *t = std::get_if<audit::SessionStateChange>(&e.payload);
            t != nullptr && t->new_state == SessionState::Volatile) {
            EXPECT_EQ(t->reason_code, Reason::heartbeat_timeout);
            EXPECT_EQ(e.ts_ms, volatile_at);
            audited = true;
        }
    EXPECT_TRUE(audited);
}

TEST_F(JumpgateClientTest, TrafficFromElsewhereDoesNotKeepADeadBindingAlive) {
    // The binding's last word was the HELLO just handled; from then on packets keep arriving
    // (a standby path's probes, a new address the switch gate holds back), none from it.
    auto &c = dp.slot_counters[slot()];
    const int64_t last_on_binding = now;
    int64_t volatile_at = kNever;
    for (int i = 0; i < 400 && volatile_at == kNever; ++i) {
        advance(10);
        c.rx_packets += 1;
        c.rx_age_ms = now - last_on_binding;
        dir->tick(now);
        if (session().state == SessionState::Volatile)
            volatile_at = now;
    }
    ASSERT_NE(volatile_at, kNever) << "other addresses' packets kept the binding alive";
    EXPECT_LE(volatile_at - last_on_binding, 2'010);
}

TEST_F(SessionLifecycle, KeysExpireWithoutARehandshakeAndEndTheSession) {
    start();
    ASSERT_TRUE(handshake(client));
    dir->handle(session_event(UpKind::KeypairConfirmed, kClientAddr), now);
    for (int i = 0; i < 181; ++i) {
        advance(1'000);
        traffic(5);
        dir->tick(now);
    }
    const auto ended = payloads<audit::SessionTerminated>(audit_events());
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].reason_code, Reason::key_expired);
    EXPECT_EQ(dp.retired.size(), 1u);
    // The expired current keypair leaves the data plane at once (no more sealing under it),
    // not only with the session.
    ASSERT_EQ(dp.keypairs_retired.size(), 1u);
    EXPECT_EQ(dp.keypairs_retired[0].first, dp.retired[0]);
}

TEST_F(SessionLifecycle, RehandshakeEveryTwoMinutesKeepsTheSessionAlive) {
    start();
    ASSERT_TRUE(handshake(client));
    dir->handle(session_event(UpKind::KeypairConfirmed, kClientAddr), now);
    for (int i = 0; i < 400; ++i) {
        advance(1'000);
        traffic(5);
        dir->tick(now);
        if (i % 120 == 119) {
            ASSERT_TRUE(handshake(client));
            dir->handle(session_event(UpKind::KeypairConfirmed, kClientAddr), now);
        }
    }
    EXPECT_EQ(dir->live_sessions(), 1u);
    EXPECT_EQ(dir->sessions_snapshot().at(0).key_epoch, 3u);
    EXPECT_EQ(dp.confirmed.size(), 4u);
    EXPECT_EQ(dp.keypairs_retired.size(), 2u) << "each previous keypair stops at 180 s";
}

TEST_F(SessionLifecycle, TerminatedSessionsLeaveTheSnapshotAfterRetention) {
    options.terminated_retention_ms = 5'000;
    start();
    ASSERT_TRUE(handshake(client));
    control_from(proto::Hello{}, kClientAddr);  // heartbeats promised: silence ends it
    for (int i = 0; i < 16; ++i) {
        advance(1'000);
        dir->tick(now);
    }
    ASSERT_EQ(dir->sessions_snapshot().size(), 1u);
    advance(5'000);
    dir->tick(now);
    EXPECT_TRUE(dir->sessions_snapshot().empty());
}

// The sweep queue points at sessions; with no retention a session ended mid-sweep still has
// an entry queued, and must outlive it (the sanitizer build of this test would see a use
// after free otherwise).
TEST_F(SessionLifecycle, ASessionWithoutRetentionOutlivesItsQueuedSweeps) {
    options.terminated_retention_ms = 0;
    start();
    ASSERT_TRUE(handshake(client));
    const uint64_t id = dir->sessions_snapshot().at(0).session_id;
    control_from(proto::Hello{}, kClientAddr);  // heartbeats promised: silence ends it
    bool ended = false;
    for (int i = 0; i < 40 && !ended; ++i) {
        advance(500);
        dir->tick(now);
        const auto s = dir->find_session(id);
        ended = !s || s->state == SessionState::Terminated;
    }
    ASSERT_TRUE(ended) << "heartbeat silence ends the session";
    for (int i = 0; i < 4; ++i) {
        advance(10);
        dir->tick(now);
    }
    EXPECT_TRUE(dir->sessions_snapshot().empty()) << "dropped once its queued sweeps are taken";
    for (size_t i = 0; i < kSessionStateCount; ++i)
        EXPECT_EQ(dir->sessions_by_state()[i], 0u) << state_name(SessionState(i));
}

TEST_F(SessionLifecycle, StateCountsAndByteTotalsFollowTheSessionToItsEnd) {
    options.terminated_retention_ms = 5'000;
    start();
    ASSERT_TRUE(handshake(client));
    const auto count = [&](SessionState st) {
        return dir->sessions_by_state()[static_cast<size_t>(st)];
    };
    EXPECT_EQ(count(SessionState::Attached), 1u);
    auto &c = dp.slot_counters[slot()];
    c.rx_packets = 3;
    c.rx_bytes = 3'000;
    c.tx_bytes = 500;
    advance(100);
    dir->tick(now);
    EXPECT_EQ(dir->rx_bytes_total(), 3'000u);
    EXPECT_EQ(dir->tx_bytes_total(), 500u);
    // Carried after the last health sample, then the operator ends it before the next one:
    // still counted, once.
    c.rx_bytes += 700;
    c.tx_bytes += 80;
    ASSERT_TRUE(dir->terminate(dir->sessions_snapshot().at(0).session_id, now).ok());
    EXPECT_EQ(dir->rx_bytes_total(), 3'700u);
    EXPECT_EQ(dir->tx_bytes_total(), 580u);
    EXPECT_EQ(count(SessionState::Attached), 0u);
    EXPECT_EQ(count(SessionState::Terminated), 1u);
    advance(1'000);
    dir->tick(now);
    EXPECT_EQ(dir->rx_bytes_total(), 3'700u) << "a terminated session is not sampled again";
    advance(5'000);
    dir->tick(now);
    EXPECT_TRUE(dir->sessions_snapshot().empty());
    for (size_t i = 0; i < kSessionStateCount; ++i)
        EXPECT_EQ(dir->sessions_by_state()[i], 0u) << state_name(SessionState(i));
    EXPECT_EQ(dir->rx_bytes_total(), 3'700u) << "totals outlive the sessions they count";
}

// ---- jumpgate clients ----

TEST_F(JumpgateClientTest, HelloTurnsOnExtensionsAndIsAnsweredWithHelloAck) {
    EXPECT_EQ(dp.flags[slot()], kFlagLive | kFlagExtensions);
    const RecordingDataplane::Frame *frame = nullptr;
    const auto ack = dp.last_control<proto::HelloAck>(&frame);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->session_id, session().session_id);
    EXPECT_EQ(ack->state, proto::WireState::attached);
    EXPECT_EQ(ack->state_version, 1u);
    EXPECT_EQ(ack->heartbeat_interval_ms, 500u);
    EXPECT_EQ(ack->loss_volatile_permille, 200u);
    EXPECT_EQ(frame->to, kClientAddr);
    EXPECT_EQ(frame->worker, 1) << "the owner encrypts";
    EXPECT_EQ(frame->slot, slot());
    EXPECT_TRUE(session().jumpgate_client);
}

TEST_F(JumpgateClientTest, HeartbeatIsAnsweredWithTheGatewaysReceiveCounts) {
    traffic(42, 3);
    proto::Heartbeat hb;
    hb.seq = 7;
    hb.path_id = 1;
    hb.send_ts_ms = 123456;
    hb.rtt_us = 20'000;
    control_from(hb, kClientAddr);
    const auto ack = dp.last_control<proto::HeartbeatAck>();
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->seq, 7u);
    EXPECT_EQ(ack->path_id, 1);
    EXPECT_EQ(ack->echo_ts_ms, 123456u);
    EXPECT_EQ(ack->rx_packets, 42u);
    EXPECT_EQ(ack->counter_gaps, 3u);
    EXPECT_EQ(ack->state_version, session().state_version);

    traffic(8);
    hb.seq = 8;
    control_from(hb, kClientAddr);
    EXPECT_EQ(dp.last_control<proto::HeartbeatAck>()->rx_packets, 8u)
        << "counts since the last ack";
}

TEST_F(JumpgateClientTest, NatRebindingIsValidatedBeforeTheBindingMoves) {
    advance(2'000);
    source_changed(kRoamAddr, kOtherMac);
    EXPECT_EQ(session().state, SessionState::Recovering);
    EXPECT_EQ(dp.bindings[slot()], kClientAddr) << "nothing moves before the path answers";
    const RecordingDataplane::Frame *frame = nullptr;
    const auto challenge = dp.last_control<proto::PathChallenge>(&frame);
    ASSERT_TRUE(challenge.has_value());
    EXPECT_EQ(frame->to, kRoamAddr);
    EXPECT_EQ(frame->next_hop, kOtherMac);

    advance(30);
    control_from(proto::PathResponse{challenge->data}, kRoamAddr, kOtherMac);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_EQ(session().state, SessionState::Attached);
    const auto events = audit_events();
    const auto switches = payloads<audit::TransportSwitch>(events);
    ASSERT_EQ(switches.size(), 1u);
    EXPECT_EQ(switches[0].reason_code, Reason::address_change_observed);
    EXPECT_EQ(transitions(events).back().reason_code, Reason::reattach_success);
}

TEST_F(JumpgateClientTest, AWrongPathResponseLeavesTheBindingUntouched) {
    advance(2'000);
    source_changed(kRoamAddr);
    const auto challenge = dp.last_control<proto::PathChallenge>();
    ASSERT_TRUE(challenge.has_value());
    proto::PathResponse wrong{challenge->data};
    wrong.data[0] ^= 1;
    control_from(wrong, kRoamAddr);
    EXPECT_EQ(dp.bindings[slot()], kClientAddr);
    EXPECT_TRUE(payloads<audit::TransportSwitch>(audit_events()).empty());
}

TEST_F(JumpgateClientTest, ReattachFromACandidatePathSwitchesAfterPathValidation) {
    tick_for(2'500);  // silence: heartbeat timeout
    ASSERT_EQ(session().state, SessionState::Volatile);

    proto::ReattachRequest req;
    req.session_id = session().session_id;
    req.path_id = 2;
    req.reason = proto::ReattachReason::path_lost;
    req.client_time_ms = uint64_t(now);
    req.nonce = 0xfeed;
    control_from(req, kRoamAddr, kOtherMac);
    EXPECT_EQ(session().state, SessionState::Recovering);
    const RecordingDataplane::Frame *frame = nullptr;
    const auto challenge = dp.last_control<proto::PathChallenge>(&frame);
    ASSERT_TRUE(challenge.has_value());
    EXPECT_EQ(frame->to, kRoamAddr);

    advance(40);
    control_from(proto::PathResponse{challenge->data}, kRoamAddr, kOtherMac);
    const auto result = dp.last_control<proto::ReattachResult>(&frame);
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->accepted);
    EXPECT_EQ(result->reason, uint16_t(Reason::reattach_success));
    EXPECT_EQ(result->state_version, session().state_version);
    EXPECT_EQ(frame->to, kRoamAddr);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_EQ(dp.binding_macs[slot()], kOtherMac);
    EXPECT_EQ(session().state, SessionState::Attached);
    EXPECT_EQ(session().counters.reattach_accepted, 1u);

    // The same request again is a replay: denied, binding kept, security event.
    tick_for(2'500);
    control_from(req, kRoamAddr2);
    EXPECT_FALSE(dp.last_control<proto::ReattachResult>()->accepted);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_TRUE(check_audit().ok());
}

// The recovery window runs out on a timer tick, which has no event MAC: the denial still goes
// to the candidate through the candidate's next hop, not the old binding's.
TEST_F(JumpgateClientTest, AValidationThatTimesOutIsDeniedThroughTheCandidatesNextHop) {
    tick_for(2'500);
    ASSERT_EQ(session().state, SessionState::Volatile);
    proto::ReattachRequest req;
    req.session_id = session().session_id;
    req.client_time_ms = uint64_t(now);
    req.nonce = 0xbeef;
    control_from(req, kRoamAddr, kOtherMac);
    ASSERT_EQ(session().state, SessionState::Recovering);

    tick_for(Policy{}.switching.recovery_window_ms + 250);
    EXPECT_EQ(session().state, SessionState::Degraded);
    const RecordingDataplane::Frame *frame = nullptr;
    const auto result = dp.last_control<proto::ReattachResult>(&frame);
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(result->accepted);
    EXPECT_EQ(result->reason, uint16_t(Reason::path_validation_failed));
    EXPECT_EQ(frame->to, kRoamAddr);
    EXPECT_EQ(frame->next_hop, kOtherMac);
    EXPECT_EQ(dp.bindings[slot()], kClientAddr);
}

TEST_F(JumpgateClientTest, ReattachReportedAlsoAsANewSourceNeedsOnlyOneAnswer) {
    // The worker reports the candidate address (SourceChanged) and delivers the REATTACH_REQUEST
    // that came from it; both start a validation to the same address.
    tick_for(2'500);
    source_changed(kRoamAddr, kOtherMac);
    proto::ReattachRequest req;
    req.session_id = session().session_id;
    req.client_time_ms = uint64_t(now);
    req.nonce = 5;
    control_from(req, kRoamAddr, kOtherMac);

    std::vector<proto::PathChallenge> challenges;
    for (const auto &f : dp.control)
        if (const auto d = proto::decode_control(f.bytes);
            d.ok() && std::holds_alternative<proto::PathChallenge>(d.message))
            challenges.push_back(std::get<proto::PathChallenge>(d.message));
    ASSERT_EQ(challenges.size(), 2u);
    EXPECT_EQ(challenges[0], challenges[1]);

    control_from(proto::PathResponse{challenges[0].data}, kRoamAddr, kOtherMac);
    control_from(proto::PathResponse{challenges[1].data}, kRoamAddr, kOtherMac);
    const auto result = dp.last_control<proto::ReattachResult>();
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->accepted);
    EXPECT_EQ(dp.bindings[slot()], kRoamAddr);
    EXPECT_EQ(session().state, SessionState::Attached);
    EXPECT_TRUE(check_audit().ok());
}

// A client may send kReattachBurst REATTACH_REQUESTs at once and kReattachPerSecond after;
// the rest are dropped unhandled (no challenge, no per-request audit) under one
// reattach_flood SecurityEvent a second.
TEST_F(JumpgateClientTest, ReattachRequestsAboveTheirRateAreDroppedAndAuditedOnceASecond) {
    tick_for(2'500);
    uint64_t nonce = 100;
    auto reattach = [&] {
        proto::ReattachRequest req;
        req.session_id = session().session_id;
        req.client_time_ms = uint64_t(now);
        req.nonce = nonce++;
        control_from(req, kRoamAddr, kOtherMac);
    };
    for (int64_t i = 0; i < kReattachBurst + 5; ++i)
        reattach();
    EXPECT_EQ(dir->stats().reattach_flood, 5u);
    auto flood_events = [&] {
        size_t n = 0;
        for (const auto &e : payloads<audit::SecurityEvent>(audit_events()))
            n += e.violation == Reason::reattach_flood;
        return n;
    };
    EXPECT_EQ(flood_events(), 1u);

    advance(1000 / kReattachPerSecond);  // one more request's worth of credit
    reattach();
    EXPECT_EQ(dir->stats().reattach_flood, 5u);
    reattach();
    EXPECT_EQ(dir->stats().reattach_flood, 6u);
    EXPECT_EQ(flood_events(), 1u) << "once a second";
    EXPECT_TRUE(check_audit().ok());
}

TEST_F(JumpgateClientTest, ReattachNamingAnotherSessionIsDenied) {
    tick_for(2'500);
    proto::ReattachRequest req;
    req.session_id = session().session_id ^ 1;
    req.client_time_ms = uint64_t(now);
    req.nonce = 1;
    control_from(req, kRoamAddr);
    const auto result = dp.last_control<proto::ReattachResult>();
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(result->accepted);
    EXPECT_EQ(result->reason, uint16_t(Reason::unknown_session));
    EXPECT_EQ(dp.bindings[slot()], kClientAddr);
    // Under this session's keys, naming another: audited as a fixation attempt.
    const auto sec = payloads<audit::SecurityEvent>(audit_events());
    ASSERT_EQ(sec.size(), 1u);
    EXPECT_EQ(sec[0].violation, Reason::session_fixation_attempt);
    EXPECT_EQ(sec[0].source, kRoamAddr.to_string());
    EXPECT_TRUE(check_audit().ok());
}

TEST_F(JumpgateClientTest, StaleReattachIsDenied) {
    tick_for(2'500);
    proto::ReattachRequest req;
    req.session_id = session().session_id;
    req.client_time_ms = uint64_t(now - 60'000);
    req.nonce = 2;
    control_from(req, kRoamAddr);
    EXPECT_EQ(dp.last_control<proto::ReattachResult>()->reason, uint16_t(Reason::stale_request));
}

// The system clock stepped an hour back under a running gateway: the control clock slews, so
// now_ms is an hour ahead of the client's (correct) wall clock for a while. Freshness is judged
// against the system clock, so the request is fresh; an hour-old stamp is still stale.
TEST_F(JumpgateClientTest, ReattachFreshnessFollowsTheSystemClockWhileTheControlClockSlews) {
    tick_for(2'500);
    dir->set_system_clock_offset(-3'600'000);
    proto::ReattachRequest req;
    req.session_id = session().session_id;
    req.client_time_ms = uint64_t(now - 3'600'000);
    req.nonce = 3;
    control_from(req, kRoamAddr, kOtherMac);
    EXPECT_EQ(session().state, SessionState::Recovering);
    EXPECT_FALSE(dp.last_control<proto::ReattachResult>().has_value());

    req.client_time_ms = uint64_t(now - 7'200'000);
    req.nonce = 4;
    control_from(req, kRoamAddr2);
    EXPECT_EQ(dp.last_control<proto::ReattachResult>()->reason, uint16_t(Reason::stale_request));
}

TEST_F(JumpgateClientTest, VolatilityIsHintedToTheClient) {
    tick_for(2'500);
    const auto hint = dp.last_control<proto::StateHint>();
    ASSERT_TRUE(hint.has_value());
    EXPECT_EQ(hint->state, proto::HintState::volatile_);
    EXPECT_EQ(hint->reason, uint16_t(Reason::heartbeat_timeout));
}

TEST_F(JumpgateClientTest, TerminateFromTheClientEndsTheSession) {
    control_from(proto::Terminate{uint16_t(Reason::explicit_termination)}, kClientAddr);
    EXPECT_EQ(session().state, SessionState::Terminated);
    EXPECT_EQ(dir->live_sessions(), 0u);
    advance(100);
    dir->tick(now);
    EXPECT_EQ(dp.retired.size(), 1u);
    const auto ended = payloads<audit::SessionTerminated>(audit_events());
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].reason_code, Reason::explicit_termination);
}

TEST_F(JumpgateClientTest, TerminateGoesOutBeforeTheSlotLosesItsKeys) {
    const uint32_t s = slot();
    for (int i = 0; i < 80 && session().state != SessionState::Terminated; ++i) {
        advance(250);
        dir->tick(now);
    }
    ASSERT_EQ(session().state, SessionState::Terminated);
    const auto bye = dp.last_control<proto::Terminate>();
    ASSERT_TRUE(bye.has_value());
    EXPECT_EQ(bye->reason, uint16_t(Reason::transport_ttl_exceeded));
    EXPECT_EQ(dp.flags[s], 0) << "data stops at once";
    EXPECT_TRUE(dp.retired.empty()) << "the worker still needs the keys to seal TERMINATE";
    advance(10);
    dir->tick(now);
    EXPECT_TRUE(dp.retired.empty());
    advance(100);
    dir->tick(now);
    ASSERT_EQ(dp.retired.size(), 1u);
    EXPECT_EQ(dp.retired[0], s);
    EXPECT_TRUE(dp.routes.empty());
}

TEST_F(JumpgateClientTest, ANewHandshakeRetiresTheTerminatedSlotAtOnce) {
    const uint32_t old_slot = slot();
    control_from(proto::Terminate{uint16_t(Reason::explicit_termination)}, kClientAddr);
    ASSERT_TRUE(dp.retired.empty());
    advance(30);  // inside the flush time, past the per-peer initiation spacing
    ASSERT_TRUE(handshake(client));
    ASSERT_EQ(dp.retired.size(), 1u) << "the old slot must give up the peer's routes first";
    EXPECT_EQ(dp.retired[0], old_slot);
    EXPECT_EQ(dir->live_sessions(), 1u);
    EXPECT_EQ(dp.routes.size(), 2u);
}

TEST_F(JumpgateClientTest, GatewayToClientTypesComingUpAreRejected) {
    control_from(proto::HelloAck{}, kClientAddr);
    control_from(proto::StateHint{}, kClientAddr);
    EXPECT_EQ(dir->stats().control_rejected, 2u);
}

TEST_F(SessionLifecycle, ControlMessagesBeforeHelloGetNoAnswer) {
    start();
    ASSERT_TRUE(handshake(client));
    proto::Heartbeat hb;
    hb.seq = 1;
    control_from(hb, kClientAddr);
    EXPECT_TRUE(dp.control.empty());
    EXPECT_EQ(dir->stats().control_rejected, 1u);
}

// ---- the audit log of a whole run ----

TEST_F(SessionLifecycle, AuditLogOfAMixedRunPassesAuditCheck) {
    Client second(gateway.public_key());
    Client stranger(gateway.public_key());
    start({client_peer(client), client_peer(second)});

    ASSERT_TRUE(handshake(client, kClientAddr, 0));
    ASSERT_TRUE(handshake(second, kRoamAddr3, 1));
    const uint32_t stock_slot = dp.keypairs[0].slot;
    const uint32_t stock_index = dp.keypairs[0].keys.local_index;
    const auto msg = stranger.initiate(now);
    dir->handle(initiation_event(msg), now);

    // The second peer is a jumpgate client.
    control_from(proto::Hello{}, kRoamAddr3);
    for (int i = 0; i < 8; ++i) {
        advance(500);
        traffic(10);
        dp.slot_counters[stock_slot].rx_packets += 10;
        dir->tick(now);
    }
    // The stock peer roams twice in quick succession: one switch, one denial.
    UpEvent roam;
    roam.kind = UpKind::SourceChanged;
    roam.worker = 0;
    roam.src = kRoamAddr;
    roam.src_mac = kOtherMac;
    roam.session_slot = stock_slot;
    roam.local_index = stock_index;
    dir->handle(roam, now);
    advance(100);
    roam.src = kRoamAddr2;
    dir->handle(roam, now);

    // The jumpgate client loses its path and reattaches from another.
    for (int i = 0; i < 10; ++i) {
        advance(250);
        dp.slot_counters[stock_slot].rx_packets += 10;
        dir->tick(now);
    }
    proto::ReattachRequest req;
    req.session_id = dir->find_session(dp.session_ids[slot()])->session_id;
    req.client_time_ms = uint64_t(now);
    req.nonce = 99;
    control_from(req, kClientAddr);
    const auto challenge = dp.last_control<proto::PathChallenge>();
    ASSERT_TRUE(challenge.has_value());
    advance(20);
    control_from(proto::PathResponse{challenge->data}, kClientAddr);

    // Rotation of the stock peer's keys, then silence ends the jumpgate client's session; the
    // stock peer's session lasts until its keys expire.
    advance(100);
    ASSERT_TRUE(handshake(client, kRoamAddr, 0));
    for (int i = 0; i < 20; ++i) {
        advance(1'000);
        dir->tick(now);
    }
    EXPECT_EQ(dir->live_sessions(), 1u);
    for (int i = 0; i < 60 && dir->live_sessions() != 0; ++i) {
        advance(10'000);
        dir->tick(now);
    }
    EXPECT_EQ(dir->live_sessions(), 0u);

    const auto report = check_audit();
    for (const auto &v : report.violations)
        ADD_FAILURE() << "line " << v.line << ": " << v.message;
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.sessions, 2u);
    EXPECT_GE(report.events, 15u);
}

}  // namespace
}  // namespace jg::control::test
