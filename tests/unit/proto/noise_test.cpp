#include <gtest/gtest.h>

#include <sodium.h>
#include <map>

#include "proto/blake2s.hpp"
#include "proto/noise.hpp"
#include "proto/transport.hpp"

namespace jg::proto {
namespace {

constexpr uint64_t kUnixNs = 1'700'000'000ull * kNsPerSecond;  // wall clock for TAI64N
constexpr uint64_t kNowNs = 5'000 * kNsPerSecond;              // monotonic clock

Key key_filled(uint8_t v) {
    Key k;
    k.fill(v);
    return k;
}

// One initiator, one responder that knows it as a peer, and the glue a caller would write.
class HandshakeTest : public ::testing::Test {
  protected:
    HandshakeTest()
        : initiator(StaticIdentity::generate()),
          responder(StaticIdentity::generate()),
          jar_to_responder(responder.public_key()),
          jar_to_initiator(initiator.public_key()) {
        peer.public_key = initiator.public_key();
    }

    PeerLookup lookup() {
        return [this](const Key &k) -> PeerHandshakeState * {
            return k == peer.public_key ? &peer : nullptr;
        };
    }

    InitiatorHandshake initiate(const Key &psk, uint64_t unix_ns = kUnixNs) {
        auto hs = InitiatorHandshake::create_initiation(initiator, responder.public_key(), psk,
                                                        0x11111111, unix_ns, kNowNs,
                                                        jar_to_responder, init_msg);
        EXPECT_TRUE(hs.ok());
        return std::move(hs).value();
    }

    StaticIdentity initiator;
    StaticIdentity responder;
    CookieJar jar_to_responder;
    CookieJar jar_to_initiator;
    PeerHandshakeState peer;
    std::array<uint8_t, kInitiationSize> init_msg{};
    std::array<uint8_t, kResponseSize> resp_msg{};
};

TEST(StaticIdentity, PublicKeyIsTheX25519BaseMultipleOfThePrivateKey) {
    const Key priv = key_filled(0x42);
    auto id = StaticIdentity::from_private_key(priv);
    ASSERT_TRUE(id.ok());
    Key expected;
    crypto_scalarmult_base(expected.data(), priv.data());
    EXPECT_EQ(id->public_key(), expected);
    EXPECT_EQ(x25519_public_key(priv), expected);
}

TEST(StaticIdentity, GeneratedIdentitiesDiffer) {
    EXPECT_NE(StaticIdentity::generate().public_key(), StaticIdentity::generate().public_key());
}

TEST_F(HandshakeTest, InitiationHasWireLayoutAndMac1ButNoMac2WithoutCookie) {
    initiate(Key{});
    const auto p = parse_initiation(init_msg);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.view.sender_index(), 0x11111111u);
    const Mac expected_mac1 = blake2s_mac(mac1_key_for(responder.public_key()),
                                          std::span<const uint8_t>(init_msg).first(116));
    EXPECT_TRUE(std::equal(p.view.mac1().begin(), p.view.mac1().end(), expected_mac1.begin()));
    const Mac zero{};
    EXPECT_TRUE(std::equal(p.view.mac2().begin(), p.view.mac2().end(), zero.begin()));
    EXPECT_FALSE(std::equal(p.view.mac1().begin(), p.view.mac1().end(), zero.begin()));
    CookieChecker checker(responder.public_key());
    EXPECT_EQ(checker.check(init_msg, {}, false, kNowNs), MacVerdict::ok);
}

void expect_matching(const TransportKeypair &i, const TransportKeypair &r) {
    EXPECT_EQ(i.send_key, r.recv_key);
    EXPECT_EQ(i.recv_key, r.send_key);
    EXPECT_NE(i.send_key, i.recv_key);
    EXPECT_EQ(i.local_index, r.remote_index);
    EXPECT_EQ(i.remote_index, r.local_index);
    EXPECT_TRUE(i.is_initiator);
    EXPECT_FALSE(r.is_initiator);
}

// Message 2 from `rh`, consumed by `ih`: both ends must derive the same keypair.
void expect_response_completes(InitiatorHandshake &ih, ResponderHandshake &rh, CookieJar &jar,
                               std::array<uint8_t, kResponseSize> &resp) {
    auto rkp = rh.create_response(0x22222222, kNowNs, jar, resp);
    ASSERT_TRUE(rkp.ok()) << rkp.error().message();
    auto ikp = ih.consume_response(resp, kNowNs);
    ASSERT_TRUE(ikp.ok()) << ikp.error().message();
    expect_matching(*ikp, *rkp);
}

TEST_F(HandshakeTest, FullHandshakeWithoutPskYieldsMatchingKeypairs) {
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok()) << rh.error().message();
    EXPECT_EQ(rh->remote_static(), initiator.public_key());
    EXPECT_EQ(rh->remote_index(), 0x11111111u);
    auto rkp = rh->create_response(0x22222222, kNowNs + 1, jar_to_initiator, resp_msg);
    ASSERT_TRUE(rkp.ok()) << rkp.error().message();
    auto ikp = ih.consume_response(resp_msg, kNowNs + 2);
    ASSERT_TRUE(ikp.ok()) << ikp.error().message();
    expect_matching(*ikp, *rkp);
    EXPECT_EQ(ikp->local_index, 0x11111111u);
    EXPECT_EQ(ikp->remote_index, 0x22222222u);
    EXPECT_EQ(ikp->created_ns, kNowNs + 2);
    EXPECT_EQ(rkp->created_ns, kNowNs + 1);
}

// The responder's second X25519 (local static x peer static) comes from the peer's cache.
TEST_F(HandshakeTest, PrecomputedStaticStaticIsBothStaticKeysDhAndCarriesTheHandshake) {
    ASSERT_TRUE(precompute_static_static(peer, responder));
    Key expected;
    ASSERT_EQ(crypto_scalarmult(expected.data(), responder.private_key().data(),
                                initiator.public_key().data()),
              0);
    EXPECT_EQ(peer.static_static, expected);
    EXPECT_EQ(peer.static_static_local, responder.public_key());

    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok()) << rh.error().message();
    expect_response_completes(ih, *rh, jar_to_initiator, resp_msg);
}

TEST_F(HandshakeTest, WithoutPrecomputationTheFirstInitiationFillsTheCache) {
    EXPECT_EQ(peer.static_static_local, Key{});
    initiate(Key{});
    ASSERT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs).ok());
    EXPECT_EQ(peer.static_static_local, responder.public_key());
    EXPECT_TRUE(peer.static_static_ok);
}

TEST_F(HandshakeTest, ANewLocalKeyRecomputesTheCachedStaticStatic) {
    ASSERT_TRUE(precompute_static_static(peer, responder));
    const Key old_dh = peer.static_static;
    // The gateway's private key is replaced; the peer's state (and its cache) stays.
    responder = StaticIdentity::generate();
    jar_to_responder = CookieJar(responder.public_key());
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok()) << rh.error().message();
    EXPECT_EQ(peer.static_static_local, responder.public_key());
    EXPECT_NE(peer.static_static, old_dh);
    expect_response_completes(ih, *rh, jar_to_initiator, resp_msg);
}

TEST_F(HandshakeTest, ALowOrderPeerKeyIsRefusedWhenPrecomputed) {
    peer.public_key = Key{};  // u = 0: every X25519 with it is all zero
    EXPECT_FALSE(precompute_static_static(peer, responder));
    EXPECT_FALSE(peer.static_static_ok);
    EXPECT_EQ(peer.static_static, Key{});
    Key one{};
    one[0] = 1;  // u = 1, also low order
    peer.public_key = one;
    EXPECT_FALSE(precompute_static_static(peer, responder));
}

TEST_F(HandshakeTest, FullHandshakeWithPskYieldsMatchingKeypairsDifferentFromNoPsk) {
    const Key psk = key_filled(0x5a);
    peer.psk = psk;
    auto ih = initiate(psk);
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok());
    auto rkp = rh->create_response(7, kNowNs, jar_to_initiator, resp_msg);
    ASSERT_TRUE(rkp.ok());
    auto ikp = ih.consume_response(resp_msg, kNowNs);
    ASSERT_TRUE(ikp.ok()) << ikp.error().message();
    expect_matching(*ikp, *rkp);
}

TEST_F(HandshakeTest, TransportDataRoundTripsBothWaysWithDerivedKeys) {
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok());
    auto rkp = rh->create_response(0x22222222, kNowNs, jar_to_initiator, resp_msg);
    auto ikp = ih.consume_response(resp_msg, kNowNs);
    ASSERT_TRUE(ikp.ok() && rkp.ok());

    const std::vector<uint8_t> payload = {0x45, 0,  0,  21, 1,  2,  3,  4,  5,  6,  7,  8,   9,
                                          10,   11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0xee};
    std::vector<uint8_t> wire(transport_message_size(payload.size()));
    ASSERT_EQ(seal_transport(ikp->send_key, ikp->remote_index, 0, payload, wire), wire.size());
    EXPECT_EQ(wire.size(), 16u + 32u + 16u);
    auto parsed = parse_transport(wire);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.view.receiver_index(), rkp->local_index);
    std::vector<uint8_t> plain(parsed.view.padded_plaintext_size());
    auto n = open_transport(rkp->recv_key, parsed.view, plain);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 32u);
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), plain.begin()));
    for (size_t i = payload.size(); i < plain.size(); ++i)
        EXPECT_EQ(plain[i], 0) << i;

    // Keepalive the other way, counter 1.
    std::vector<uint8_t> ka(kTransportMinSize);
    ASSERT_EQ(seal_transport(rkp->send_key, rkp->remote_index, 1, {}, ka), kTransportMinSize);
    auto pk = parse_transport(ka);
    ASSERT_TRUE(pk.ok());
    EXPECT_EQ(pk.view.counter(), 1u);
    std::vector<uint8_t> none(1);
    auto m = open_transport(ikp->recv_key, pk.view, none);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(*m, 0u);
}

TEST_F(HandshakeTest, TransportOpenRejectsWrongKeyAndTamperedCiphertext) {
    const Key k = key_filled(1);
    std::vector<uint8_t> wire(transport_message_size(5));
    const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
    ASSERT_NE(seal_transport(k, 9, 3, payload, wire), 0u);
    std::vector<uint8_t> out(16);
    auto p = parse_transport(wire);
    EXPECT_FALSE(open_transport(key_filled(2), p.view, out).ok());
    wire[20] ^= 1;
    p = parse_transport(wire);
    EXPECT_FALSE(open_transport(k, p.view, out).ok());
    wire[20] ^= 1;
    store_le64(wire.data() + 8, 4);  // the counter is the nonce: changing it must fail
    p = parse_transport(wire);
    EXPECT_FALSE(open_transport(k, p.view, out).ok());
}

TEST_F(HandshakeTest, PskMismatchFailsAtTheInitiatorAndKeepsHandshakeUsable) {
    peer.psk = key_filled(0x01);
    auto ih = initiate(key_filled(0x02));
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    // The PSK enters only in the response, so the responder cannot notice the mismatch.
    ASSERT_TRUE(rh.ok());
    ASSERT_TRUE(rh->create_response(3, kNowNs, jar_to_initiator, resp_msg).ok());
    auto ikp = ih.consume_response(resp_msg, kNowNs);
    ASSERT_FALSE(ikp.ok());
    EXPECT_EQ(ikp.error().what, "response_decrypt_failed");
}

TEST_F(HandshakeTest, ReplayedInitiationIsRejectedByTimestamp) {
    initiate(Key{});
    ASSERT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs).ok());
    auto again = ResponderHandshake::consume_initiation(responder, init_msg, lookup(),
                                                        kNowNs + kNsPerSecond);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().what, "replayed_timestamp");
}

TEST_F(HandshakeTest, OlderTimestampIsRejectedAndNewerAccepted) {
    initiate(Key{}, kUnixNs + 10 * kNsPerSecond);
    ASSERT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs).ok());
    const Tai64n recorded = peer.greatest_timestamp;
    initiate(Key{}, kUnixNs);
    auto older = ResponderHandshake::consume_initiation(responder, init_msg, lookup(),
                                                        kNowNs + kNsPerSecond);
    ASSERT_FALSE(older.ok());
    EXPECT_EQ(older.error().what, "replayed_timestamp");
    EXPECT_EQ(peer.greatest_timestamp, recorded);
    initiate(Key{}, kUnixNs + 11 * kNsPerSecond);
    EXPECT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(),
                                                       kNowNs + 2 * kNsPerSecond)
                    .ok());
}

TEST_F(HandshakeTest, InitiationsFasterThanFiftyPerSecondAreAFlood) {
    initiate(Key{}, kUnixNs);
    ASSERT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs).ok());
    initiate(Key{}, kUnixNs + kNsPerSecond);
    auto flood =
        ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs + kNsPerMs);
    ASSERT_FALSE(flood.ok());
    EXPECT_EQ(flood.error().what, "initiation_flood");
    EXPECT_TRUE(ResponderHandshake::consume_initiation(responder, init_msg, lookup(),
                                                       kNowNs + 30 * kNsPerMs)
                    .ok());
}

TEST_F(HandshakeTest, CorruptedMac1IsRejectedBeforeAnyDiffieHellman) {
    initiate(Key{});
    init_msg[initiation_off::mac1] ^= 0x01;
    bool looked_up = false;
    auto r = ResponderHandshake::consume_initiation(
        responder, init_msg,
        [&](const Key &) -> PeerHandshakeState * {
            looked_up = true;
            return &peer;
        },
        kNowNs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().what, "bad_mac1");
    EXPECT_FALSE(looked_up);
    CookieChecker checker(responder.public_key());
    EXPECT_EQ(checker.check(init_msg, {}, false, kNowNs), MacVerdict::bad_mac1);
}

TEST_F(HandshakeTest, TamperedFieldUnderValidMac1FailsDecryption) {
    initiate(Key{});
    init_msg[initiation_off::encrypted_static + 3] ^= 0x80;
    CookieJar(responder.public_key()).add_macs(init_msg, kNowNs);  // re-MAC the tampered bytes
    auto r = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().what, "static_decrypt_failed");
}

TEST_F(HandshakeTest, InitiationForAnotherResponderKeyIsRejected) {
    const StaticIdentity other = StaticIdentity::generate();
    CookieJar jar_to_other(other.public_key());
    auto hs = InitiatorHandshake::create_initiation(initiator, other.public_key(), Key{}, 1,
                                                    kUnixNs, kNowNs, jar_to_other, init_msg);
    ASSERT_TRUE(hs.ok());
    auto r = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().what, "bad_mac1");
    // Even with a mac1 forged for our key, the Noise transcript does not open.
    CookieJar(responder.public_key()).add_macs(init_msg, kNowNs);
    r = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().what, "static_decrypt_failed");
}

TEST_F(HandshakeTest, UnknownInitiatorIsRejected) {
    initiate(Key{});
    auto r = ResponderHandshake::consume_initiation(
        responder, init_msg, [](const Key &) -> PeerHandshakeState * { return nullptr; }, kNowNs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().what, "unknown_peer");
    EXPECT_FALSE(peer.has_initiation);
}

TEST_F(HandshakeTest, ResponseFromWrongResponderKeyIsRejected) {
    auto ih = initiate(Key{});
    // An impostor answers with its own static key: it cannot have read the initiation.
    const StaticIdentity impostor = StaticIdentity::generate();
    auto rh = ResponderHandshake::consume_initiation(impostor, init_msg, lookup(), kNowNs);
    EXPECT_FALSE(rh.ok());
    // A genuine response with its ephemeral key swapped no longer authenticates.
    auto good = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(good.ok());
    ASSERT_TRUE(good->create_response(5, kNowNs, jar_to_initiator, resp_msg).ok());
    auto forged = resp_msg;
    const Key other_ephemeral = StaticIdentity::generate().public_key();
    std::copy(other_ephemeral.begin(), other_ephemeral.end(),
              forged.begin() + response_off::ephemeral);
    jar_to_initiator.add_macs(forged, kNowNs);
    auto bad = ih.consume_response(forged, kNowNs);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().what, "response_decrypt_failed");
    // The failed attempt did not disturb the handshake: the real response still completes.
    EXPECT_TRUE(ih.consume_response(resp_msg, kNowNs).ok());
}

TEST_F(HandshakeTest, ResponseToAnotherIndexOrWithBadMac1IsRejected) {
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok());
    ASSERT_TRUE(rh->create_response(5, kNowNs, jar_to_initiator, resp_msg).ok());
    auto wrong_index = resp_msg;
    store_le32(wrong_index.data() + response_off::receiver, 0x99);
    EXPECT_EQ(ih.consume_response(wrong_index, kNowNs).error().what, "wrong_receiver_index");
    auto bad_mac = resp_msg;
    bad_mac[response_off::mac1 + 15] ^= 0x10;
    EXPECT_EQ(ih.consume_response(bad_mac, kNowNs).error().what, "bad_mac1");
    std::vector<uint8_t> truncated(resp_msg.begin(), resp_msg.end() - 1);
    EXPECT_EQ(ih.consume_response(truncated, kNowNs).error().what, "malformed");
}

TEST_F(HandshakeTest, HandshakeStatesAreSingleUse) {
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok());
    ASSERT_TRUE(rh->create_response(5, kNowNs, jar_to_initiator, resp_msg).ok());
    EXPECT_EQ(rh->create_response(6, kNowNs, jar_to_initiator, resp_msg).error().what,
              "already_used");
}

TEST_F(HandshakeTest, InitiatorRefusesSecondResponseAfterCompleting) {
    auto ih = initiate(Key{});
    auto rh = ResponderHandshake::consume_initiation(responder, init_msg, lookup(), kNowNs);
    ASSERT_TRUE(rh.ok());
    ASSERT_TRUE(rh->create_response(5, kNowNs, jar_to_initiator, resp_msg).ok());
    ASSERT_TRUE(ih.consume_response(resp_msg, kNowNs).ok());
    EXPECT_EQ(ih.consume_response(resp_msg, kNowNs).error().what, "already_used");
}

TEST(HandshakeCrypto, LowOrderRemoteStaticIsRefused) {
    const StaticIdentity me = StaticIdentity::generate();
    const Key zero_point{};  // X25519 with the zero point gives an all-zero secret
    CookieJar jar(zero_point);
    std::array<uint8_t, kInitiationSize> out{};
    auto hs =
        InitiatorHandshake::create_initiation(me, zero_point, Key{}, 1, kUnixNs, kNowNs, jar, out);
    ASSERT_FALSE(hs.ok());
    EXPECT_EQ(hs.error().what, "zero_shared_secret");
}

TEST(HandshakeReject, NamesComeFromTheSameList) {
    EXPECT_EQ(handshake_reject_name(HandshakeReject::malformed), "malformed");
    EXPECT_EQ(handshake_reject_name(HandshakeReject::already_used), "already_used");
}

TEST(TransportKeypair, WipeZeroesKeys) {
    TransportKeypair kp{};
    kp.send_key = key_filled(9);
    kp.recv_key = key_filled(8);
    wipe(kp);
    EXPECT_EQ(kp.send_key, Key{});
    EXPECT_EQ(kp.recv_key, Key{});
}

}  // namespace
TEST(Transport, FullSizePacketIsPaddedOnlyUpToTheMtuAndStillOpens) {
    Key k{};
    k.fill(0x42);
    std::vector<uint8_t> payload(1415, 0xab);
    std::vector<uint8_t> wire(transport_message_size(payload.size(), 1420));
    ASSERT_EQ(wire.size(), kTransportMinSize + 1420u);
    ASSERT_EQ(seal_transport(k, 9, 3, payload, wire, 1420), wire.size());
    const auto parsed = parse_transport(wire);
    ASSERT_EQ(parsed.reason, ParseReason::ok);
    std::vector<uint8_t> out(parsed.view.padded_plaintext_size());
    auto n = open_transport(k, parsed.view, out);
    ASSERT_TRUE(n.ok()) << n.error().message();
    EXPECT_EQ(*n, 1420u);
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), out.begin()));
}

}  // namespace jg::proto
