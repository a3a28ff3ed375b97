#include <sodium.h>

#include "control_fixture.hpp"

namespace jg::control::test {
namespace {

using HandshakeResponse = ControlTest;

TEST_F(HandshakeResponse, FirstHandshakeCreatesExactlyOneSessionAndPublishesIt) {
    start();
    const auto kp = handshake(client);
    ASSERT_TRUE(kp.has_value());

    ASSERT_EQ(dir->live_sessions(), 1u);
    ASSERT_EQ(dp.owners.size(), 1u);
    const uint32_t s = dp.owners.begin()->first;
    EXPECT_EQ(dp.owners[s], 1) << "the receiving worker owns the session";

    ASSERT_EQ(dp.keypairs.size(), 1u);
    const auto &installed = dp.keypairs[0];
    EXPECT_EQ(installed.role, KeypairRole::Next) << "responder keys wait for confirmation";
    EXPECT_EQ(installed.key_epoch, 0u);
    EXPECT_EQ(installed.keys.send_key, kp->recv_key);
    EXPECT_EQ(installed.keys.recv_key, kp->send_key);
    EXPECT_EQ(installed.keys.local_index, kp->remote_index);
    EXPECT_EQ(installed.keys.remote_index, 0x1234u);

    EXPECT_EQ(dp.bindings[s], kClientAddr);
    EXPECT_EQ(dp.binding_macs[s], kRouterMac);
    EXPECT_EQ(dp.routes.size(), 2u);
    EXPECT_EQ(dp.routes["10.8.0.2/32"], s);
    EXPECT_EQ(dp.routes["fd00::2/128"], s);
    EXPECT_EQ(dp.flags[s], kFlagLive);

    ASSERT_EQ(dp.raw.size(), 1u);
    EXPECT_EQ(dp.raw[0].worker, 1) << "the response leaves by the worker that received";
    EXPECT_EQ(dp.raw[0].to, kClientAddr);

    const auto snap = dir->sessions_snapshot();
    ASSERT_EQ(snap.size(), 1u);
    EXPECT_EQ(snap[0].session_id, dp.session_ids[s]);
    EXPECT_NE(snap[0].session_id, 0u);
    EXPECT_EQ(snap[0].state, SessionState::Attached);
    EXPECT_EQ(snap[0].peer_name, "phone");

    const auto events = audit_events();
    ASSERT_EQ(events.size(), 2u);
    const auto *created = std::get_if<audit::SessionCreated>(&events[0].payload);
    ASSERT_NE(created, nullptr);
    EXPECT_EQ(created->transport, kClientAddr);
    EXPECT_EQ(created->peer, encode_key(client.identity.public_key()));
    const auto *change = std::get_if<audit::SessionStateChange>(&events[1].payload);
    ASSERT_NE(change, nullptr);
    EXPECT_EQ(change->previous_state, SessionState::Birth);
    EXPECT_EQ(change->new_state, SessionState::Attached);
    EXPECT_EQ(change->reason_code, Reason::handshake_ok);
    EXPECT_EQ(events[1].state_version, 1u);
    EXPECT_EQ(events[1].session_id, snap[0].session_id);
}

TEST_F(HandshakeResponse, SecondHandshakeKeepsSessionIdAndEmitsKeyRotated) {
    start();
    ASSERT_TRUE(handshake(client));
    const uint64_t id = dir->sessions_snapshot().at(0).session_id;
    const uint32_t first_index = gateway_index();

    advance(120'000);
    traffic(10);
    const auto kp = handshake(client);
    ASSERT_TRUE(kp.has_value());

    EXPECT_EQ(dir->live_sessions(), 1u);
    EXPECT_EQ(dp.owners.size(), 1u) << "no second slot";
    const auto snap = dir->sessions_snapshot();
    ASSERT_EQ(snap.size(), 1u);
    EXPECT_EQ(snap[0].session_id, id);
    EXPECT_EQ(snap[0].key_epoch, 1u);
    EXPECT_EQ(snap[0].counters.key_rotations, 1u);
    ASSERT_EQ(dp.keypairs.size(), 2u);
    EXPECT_EQ(dp.keypairs[1].key_epoch, 1u);
    EXPECT_EQ(dp.keypairs[1].role, KeypairRole::Next);
    EXPECT_NE(gateway_index(), first_index);
    EXPECT_EQ(dir->stats().key_rotations, 1u);

    const auto events = audit_events();
    ASSERT_FALSE(events.empty());
    const auto *rotated = std::get_if<audit::KeyRotated>(&events.back().payload);
    ASSERT_NE(rotated, nullptr);
    EXPECT_EQ(rotated->key_epoch, 1u);
    EXPECT_EQ(events.back().session_id, id);
    EXPECT_EQ(events.back().state_version, 1u) << "a rotation is not a transition";
}

TEST_F(HandshakeResponse, UnknownPeerIsRefusedAndCounted) {
    start();
    Client stranger(gateway.public_key());
    const auto msg = stranger.initiate(now);
    dir->handle(initiation_event(msg), now);

    EXPECT_EQ(dir->live_sessions(), 0u);
    EXPECT_TRUE(dp.raw.empty());
    EXPECT_TRUE(dp.keypairs.empty());
    EXPECT_EQ(dir->handshake_stats().refused[size_t(HandshakeRefusal::unknown_peer)], 1u);
    EXPECT_EQ(dir->handshake_stats().accepted, 0u);
    EXPECT_TRUE(audit_lines().empty());
}

TEST_F(HandshakeResponse, InitiationToAnotherGatewayKeyFailsMac1) {
    start();
    Client misdirected(proto::StaticIdentity::generate().public_key());
    const auto msg = misdirected.initiate(now);
    dir->handle(initiation_event(msg), now);
    EXPECT_EQ(dir->live_sessions(), 0u);
    EXPECT_EQ(dir->handshake_stats().refused[size_t(HandshakeRefusal::bad_mac1)], 1u);
}

TEST_F(HandshakeResponse, ReplayedInitiationIsRefusedWithASecurityEvent) {
    start();
    const auto msg = client.initiate(now);
    dir->handle(initiation_event(msg), now);
    ASSERT_EQ(dir->live_sessions(), 1u);
    ASSERT_EQ(dp.raw.size(), 1u);

    advance(1'000);  // past the per-peer flood interval: only the timestamp can refuse it
    dir->handle(initiation_event(msg, kRoamAddr), now);

    EXPECT_EQ(dp.raw.size(), 1u) << "no second response";
    EXPECT_EQ(dp.keypairs.size(), 1u) << "no key rotation";
    EXPECT_EQ(dir->handshake_stats().refused[size_t(HandshakeRefusal::replayed_timestamp)], 1u);
    EXPECT_EQ(dir->sessions_snapshot().at(0).key_epoch, 0u);
    const auto events = audit_events();
    ASSERT_EQ(events.size(), 3u);
    const auto *sec = std::get_if<audit::SecurityEvent>(&events[2].payload);
    ASSERT_NE(sec, nullptr);
    EXPECT_EQ(sec->violation, Reason::replay_detected);
    EXPECT_EQ(sec->source, kRoamAddr.to_string());
}

TEST_F(HandshakeResponse, ReplayFloodBelowTheCookieThresholdIsAuditedOnceASecond) {
    start();
    const auto msg = client.initiate(now);
    dir->handle(initiation_event(msg), now);
    advance(1'000);
    for (uint32_t i = 0; i < 50; ++i) {  // spoofed sources, 50 in 500 ms
        dir->handle(initiation_event(msg, addr(0xCB007100 + i, 9000)), now);
        advance(10);
    }
    advance(1'000);
    dir->handle(initiation_event(msg, kRoamAddr), now);

    EXPECT_EQ(dir->handshake_stats().refused[size_t(HandshakeRefusal::replayed_timestamp)], 51u);
    EXPECT_EQ(dp.raw.size(), 1u) << "only the genuine initiation is answered";
    std::vector<std::string> sources;
    for (const auto &e : audit_events())
        if (const auto *sec = std::get_if<audit::SecurityEvent>(&e.payload)) {
            EXPECT_EQ(sec->violation, Reason::replay_detected);
            sources.push_back(sec->source);
        }
    ASSERT_EQ(sources.size(), 2u) << "one audit line per second of replays, not one per replay";
    EXPECT_EQ(sources[0], addr(0xCB007100, 9000).to_string());
    EXPECT_EQ(sources[1], kRoamAddr.to_string());
}

TEST_F(HandshakeResponse, WrongPresharedKeyGivesAResponseTheClientCannotOpen) {
    // IKpsk2 mixes the PSK in only after message 1, so the gateway cannot tell; the client
    // refuses the response and no packet ever confirms the keypair left in next.
    client.psk.fill(7);
    PeerSpec spec = client_peer(client);
    spec.psk.fill(8);
    start({spec});
    EXPECT_FALSE(handshake(client).has_value());
    ASSERT_EQ(dp.raw.size(), 1u);
    EXPECT_EQ(dp.raw[0].bytes.size(), proto::kResponseSize);
    EXPECT_EQ(dp.keypairs.back().role, KeypairRole::Next);
    EXPECT_TRUE(dp.confirmed.empty());
}

TEST_F(HandshakeResponse, PresharedKeyHandshakeSucceeds) {
    client.psk.fill(7);
    start();
    const auto kp = handshake(client);
    ASSERT_TRUE(kp.has_value());
    EXPECT_EQ(dp.keypairs.back().keys.recv_key, kp->send_key);
}

TEST_F(HandshakeResponse, AboveTheRateInitiationsWithoutMac2GetACookieReplyInstead) {
    options.handshake_rate_per_sec = 2;
    Client second(gateway.public_key());
    Client third(gateway.public_key());
    start({client_peer(client), client_peer(second), client_peer(third)});

    ASSERT_TRUE(handshake(client));
    advance(10);
    ASSERT_TRUE(handshake(second));
    advance(10);
    const size_t raw_before = dp.raw.size();
    const auto msg = third.initiate(now);
    dir->handle(initiation_event(msg, kRoamAddr), now);

    ASSERT_EQ(dp.raw.size(), raw_before + 1);
    EXPECT_EQ(dp.raw.back().bytes.size(), proto::kCookieReplySize);
    EXPECT_EQ(dp.raw.back().bytes[0], uint8_t(proto::MessageType::cookie_reply));
    EXPECT_EQ(dp.raw.back().to, kRoamAddr);
    EXPECT_EQ(dir->live_sessions(), 2u) << "no X25519 work, no session for the third";
    EXPECT_EQ(dir->handshake_stats().cookie_replies, 1u);

    // The client takes the cookie and retries with mac2: admitted although still under load.
    ASSERT_TRUE(third.jar.consume_reply(dp.raw.back().bytes, uint64_t(now) * proto::kNsPerMs).ok());
    advance(30);
    const auto kp = handshake(third, kRoamAddr);
    ASSERT_TRUE(kp.has_value());
    EXPECT_EQ(dir->live_sessions(), 3u);

    const auto events = audit_events();
    size_t floods = 0;
    for (const auto &e : events)
        if (const auto *sec = std::get_if<audit::SecurityEvent>(&e.payload))
            floods += sec->violation == Reason::handshake_flood;
    EXPECT_EQ(floods, 1u) << "one SecurityEvent when the flood starts, not one per packet";
}

// A flood spoofing the client's address drives it over its per-source rate on the worker,
// which marks its initiations. Marked, the client's own initiation gets a cookie (the spoofer
// never sees it), and with the cookie's mac2 it is answered although still marked; a proven
// address is then held to kProvenSourceRate.
TEST_F(HandshakeResponse, InitiationsMarkedOverTheSourceRateNeedMac2AndAProvenSourceIsLimited) {
    start();
    const auto first = client.initiate(now);
    UpEvent ev = initiation_event(first);
    ev.over_source_rate = true;
    dir->handle(ev, now);
    ASSERT_EQ(dp.raw.size(), 1u);
    EXPECT_EQ(dp.raw[0].bytes[0], uint8_t(proto::MessageType::cookie_reply));
    EXPECT_EQ(dp.raw[0].to, kClientAddr);
    EXPECT_EQ(dir->live_sessions(), 0u) << "no X25519 for an unproven marked source";

    ASSERT_TRUE(client.jar.consume_reply(dp.raw[0].bytes, uint64_t(now) * proto::kNsPerMs).ok());
    advance(100);
    const auto proven = client.initiate(now);
    ev = initiation_event(proven);
    ev.over_source_rate = true;
    dir->handle(ev, now);
    ASSERT_EQ(dp.raw.size(), 2u);
    EXPECT_EQ(dp.raw[1].bytes.size(), proto::kResponseSize);
    EXPECT_EQ(dir->live_sessions(), 1u);

    // The proven address's bucket holds kProvenSourceBurst; the next ones in the same
    // moment are refused without a response.
    for (uint32_t i = 1; i < HandshakeResponder::kProvenSourceBurst + 3; ++i) {
        advance(21);  // past the 20 ms initiation_flood spacing
        const auto again = client.initiate(now);
        ev = initiation_event(again);
        ev.over_source_rate = true;
        dir->handle(ev, now);
    }
    EXPECT_GE(dir->handshake_stats().refused[size_t(HandshakeRefusal::source_rate_limited)], 1u);
}

TEST_F(HandshakeResponse, RateZeroDemandsCookiesAlways) {
    options.handshake_rate_per_sec = 0;
    start();
    const auto msg = client.initiate(now);
    dir->handle(initiation_event(msg), now);
    ASSERT_EQ(dp.raw.size(), 1u);
    EXPECT_EQ(dp.raw[0].bytes.size(), proto::kCookieReplySize);
    EXPECT_EQ(dir->live_sessions(), 0u);
}

TEST_F(HandshakeResponse, BelowTheRateAgainCookiesStop) {
    options.handshake_rate_per_sec = 1;
    Client second(gateway.public_key());
    start({client_peer(client), client_peer(second)});
    ASSERT_TRUE(handshake(client));
    advance(10);
    const auto msg = second.initiate(now);
    dir->handle(initiation_event(msg), now);
    EXPECT_EQ(dp.raw.back().bytes.size(), proto::kCookieReplySize);
    advance(2'500);  // two quiet seconds
    ASSERT_TRUE(handshake(second));
    EXPECT_EQ(dir->live_sessions(), 2u);
}

TEST_F(HandshakeResponse, KeypairConfirmationPromotesNextToCurrent) {
    start();
    ASSERT_TRUE(handshake(client));
    dir->handle(session_event(UpKind::KeypairConfirmed, kClientAddr), now);
    ASSERT_EQ(dp.confirmed.size(), 1u);
    EXPECT_EQ(dp.confirmed[0], slot());

    // A second confirmation of the same keypair is stale: nothing is waiting in next.
    dir->handle(session_event(UpKind::KeypairConfirmed, kClientAddr), now);
    EXPECT_EQ(dp.confirmed.size(), 1u);
    EXPECT_EQ(dir->stats().stale_events, 1u);
}

TEST_F(HandshakeResponse, SessionLimitRefusesNewPeersButNotRotations) {
    options.max_sessions = 1;
    Client second(gateway.public_key());
    start({client_peer(client), client_peer(second)});
    ASSERT_TRUE(handshake(client));
    EXPECT_FALSE(handshake(second).has_value());
    EXPECT_EQ(dir->stats().slots_exhausted, 1u);
    advance(1'000);
    EXPECT_TRUE(handshake(client).has_value());
    EXPECT_EQ(dir->live_sessions(), 1u);
}

// Below max_sessions the table can still be out of slots (a terminated session keeps its slot
// until every worker has passed it): the refusal is counted once, as session_table_full.
TEST_F(HandshakeResponse, NoFreeSlotBelowTheLimitIsARefusalNotAnAcceptedHandshake) {
    options.max_sessions = 2;
    dp.slots_left = 1;
    Client second(gateway.public_key());
    start({client_peer(client), client_peer(second)});
    ASSERT_TRUE(handshake(client));
    const size_t responses = dp.raw.size();
    EXPECT_FALSE(handshake(second).has_value());
    EXPECT_EQ(dp.raw.size(), responses) << "a refused initiation gets no response";
    const HandshakeStats &h = dir->handshake_stats();
    EXPECT_EQ(h.accepted, 1u);
    EXPECT_EQ(h.refused[size_t(HandshakeRefusal::session_table_full)], 1u);
    EXPECT_EQ(dir->stats().slots_exhausted, 1u);
    EXPECT_EQ(dir->live_sessions(), 1u);
}

TEST_F(HandshakeResponse, SessionTableFullIsCountedAndAuditedOnceASecond) {
    options.max_sessions = 1;
    Client second(gateway.public_key());
    start({client_peer(client), client_peer(second)});
    ASSERT_TRUE(handshake(client));
    const size_t responses = dp.raw.size();
    EXPECT_FALSE(handshake(second).has_value());
    advance(100);  // past the 20 ms initiation flood limit, same second
    EXPECT_FALSE(handshake(second).has_value());
    advance(1'000);
    EXPECT_FALSE(handshake(second).has_value());
    EXPECT_EQ(dp.raw.size(), responses) << "a refused initiation gets no response";

    const HandshakeStats &h = dir->handshake_stats();
    EXPECT_EQ(h.refused[size_t(HandshakeRefusal::session_table_full)], 3u);
    EXPECT_EQ(h.accepted, 1u) << "refused handshakes are not counted as accepted";
    EXPECT_EQ(dir->stats().slots_exhausted, 3u);
    EXPECT_EQ(handshake_refusal_name(HandshakeRefusal::session_table_full), "session_table_full");

    std::vector<audit::PolicyEvent> limits;
    for (const audit::Event &e : audit_events())
        if (const auto *p = std::get_if<audit::PolicyEvent>(&e.payload)) {
            EXPECT_EQ(e.session_id, 0u);
            limits.push_back(*p);
        }
    ASSERT_EQ(limits.size(), 2u) << "one PolicyEvent per second of refusals";
    EXPECT_EQ(limits[0].policy_name, "limits.max_sessions");
    EXPECT_EQ(limits[0].threshold_value, 1.0);
    EXPECT_EQ(limits[0].observed_value, 1.0);
    EXPECT_TRUE(check_audit().violations.empty());
    EXPECT_EQ(dir->live_sessions(), 1u);
}

TEST_F(HandshakeResponse, EachPeerGetsItsOwnSessionAndRoutes) {
    Client second(gateway.public_key());
    PeerSpec b = client_peer(second);
    b.allowed_ips = {*parse_ip_prefix("10.8.0.3/32", PrefixForm::Network)};
    start({client_peer(client), b});
    ASSERT_TRUE(handshake(client, kClientAddr, 0));
    ASSERT_TRUE(handshake(second, kRoamAddr, 1));
    const auto snap = dir->sessions_snapshot();
    ASSERT_EQ(snap.size(), 2u);
    EXPECT_NE(snap[0].session_id, snap[1].session_id);
    EXPECT_NE(dp.routes["10.8.0.2/32"], dp.routes["10.8.0.3/32"]);
    EXPECT_EQ(dp.owners[dp.routes["10.8.0.3/32"]], 1);
    EXPECT_EQ(dp.owners[dp.routes["10.8.0.2/32"]], 0);
}

}  // namespace
}  // namespace jg::control::test
