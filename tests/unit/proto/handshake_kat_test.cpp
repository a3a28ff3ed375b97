// Known-answer tests against an independent WireGuard reference (wg_reference.py, Python's
// hashlib/hmac + the cryptography package): with every random input fixed, lib/proto must
// produce the same bytes, proving the hash/KDF chain, AEAD associated data, mac1 ranges and
// TAI64N encoding match WireGuard's, not merely agree with themselves.
#include <gtest/gtest.h>

#include "proto/noise.hpp"
#include "proto/tai64n.hpp"
#include "proto/transport.hpp"
#include "test_bytes.hpp"

namespace jg::proto {
namespace {

using test::from_hex;
using test::to_hex;

Key sequence_key(int first) {
    Key k;
    for (int i = 0; i < 32; ++i)
        k[i] = uint8_t(first + i);
    return k;
}

// The fixed inputs of wg_reference.py.
const Key kInitiatorStatic = sequence_key(1);
const Key kResponderStatic = sequence_key(101);
const Key kInitiatorEphemeral = sequence_key(201);
const Key kResponderEphemeral = [] {
    Key k;
    for (int i = 0; i < 32; ++i)
        k[i] = uint8_t((7 * i + 3) % 256);
    return k;
}();
constexpr uint64_t kVectorUnixNs = 1'700'000'000'123'456'789ull;
constexpr uint32_t kInitiatorIndex = 0x11223344;
constexpr uint32_t kResponderIndex = 0xA1B2C3D4;
constexpr uint64_t kNowNs = 42 * kNsPerSecond;

struct Vector {
    const char *initiation;
    const char *response;
    const char *initiator_send_key;
    const char *initiator_recv_key;
    const char *transport_counter7;
};

const Vector kNoPsk = {
    .initiation =
        "01000000443322114c29f4996985e80d247e80b70303824592ff9fbad74904ea"
        "7c3d2bda24e51c12197f3df1f1f385eeca7385af03e3983a5be229054fb3fdc5"
        "00e176ddd622a02b9e5e64b51975fa696074da3938059ad5d1060d78a6c9458b"
        "84a0d366826c68820b3b739187224ed8fc19bb3ee818801b608a07542a64f4f7"
        "e3571e9300000000000000000000000000000000",
    .response =
        "02000000d4c3b2a144332211bb50ff9e82a574cfbf820e97f60fb9c143ec7415"
        "cf514f8cfd98eff59e059614b042ad5d1373597b7067a76bd321598ec7fdc766"
        "df996c6101d1c32f484e46b300000000000000000000000000000000",
    .initiator_send_key = "6f4228477610e14a897deb899588fa7684471d7591bf4faa1ddada6afa27203a",
    .initiator_recv_key = "bf2dff91d19909ee02a2db5985b7cf86cf29066d051b6eb305dc2086c5b2bcb2",
    .transport_counter7 =
        "04000000d4c3b2a1070000000000000082456eccb97b42c5199b7589f7e72bb0"
        "e27daf824cb16adf6bd735ab84a0f62370d822b465c6c00f7e860db2ddd7d594",
};

const Vector kWithPsk = {
    .initiation =
        "01000000443322114c29f4996985e80d247e80b70303824592ff9fbad74904ea"
        "7c3d2bda24e51c12197f3df1f1f385eeca7385af03e3983a5be229054fb3fdc5"
        "00e176ddd622a02b9e5e64b51975fa696074da3938059ad5d1060d78a6c9458b"
        "84a0d366826c68820b3b739187224ed8fc19bb3ee818801b608a07542a64f4f7"
        "e3571e9300000000000000000000000000000000",
    .response =
        "02000000d4c3b2a144332211bb50ff9e82a574cfbf820e97f60fb9c143ec7415"
        "cf514f8cfd98eff59e059614b01fda0096eaf025b74d4737b9e9b3aec2a62723"
        "9baa9946bf8a776990202bb600000000000000000000000000000000",
    .initiator_send_key = "06c8e1c4c9ec4c33850e552d0370d8c1e4bd3ceb7ccfdede86062af363984b54",
    .initiator_recv_key = "ea19f7ef9bb3fed646869d763894450692df20c5716e1911f57975663e67277e",
    .transport_counter7 =
        "04000000d4c3b2a107000000000000008547941b17c656a1cce0909a1896c32c"
        "a0467f601b333b4d40c5324febcba76c51aedadecdbaecb91a7b61fc51417085",
};

std::vector<uint8_t> payload() {
    std::vector<uint8_t> p(21);
    for (size_t i = 0; i < p.size(); ++i)
        p[i] = uint8_t(0x45 + i);
    return p;
}

void run_vector(const Vector &v, const Key &psk) {
    auto initiator = StaticIdentity::from_private_key(kInitiatorStatic);
    auto responder = StaticIdentity::from_private_key(kResponderStatic);
    ASSERT_TRUE(initiator.ok() && responder.ok());

    CookieJar jar_to_responder(responder->public_key());
    std::array<uint8_t, kInitiationSize> init{};
    auto ih = InitiatorHandshake::create_initiation_with_ephemeral(
        *initiator, responder->public_key(), psk, kInitiatorIndex, kVectorUnixNs, kNowNs,
        jar_to_responder, init, kInitiatorEphemeral);
    ASSERT_TRUE(ih.ok());
    EXPECT_EQ(to_hex(init), v.initiation);

    PeerHandshakeState peer;
    peer.public_key = initiator->public_key();
    peer.psk = psk;
    const auto reference_init = from_hex(v.initiation);
    auto rh = ResponderHandshake::consume_initiation(
        *responder, reference_init, [&](const Key &) { return &peer; }, kNowNs);
    ASSERT_TRUE(rh.ok()) << rh.error().message();
    EXPECT_EQ(rh->remote_static(), initiator->public_key());
    EXPECT_EQ(rh->remote_index(), kInitiatorIndex);
    EXPECT_EQ(rh->timestamp(), tai64n_from_unix_ns(kVectorUnixNs));

    CookieJar jar_to_initiator(initiator->public_key());
    std::array<uint8_t, kResponseSize> resp{};
    auto rkp = rh->create_response_with_ephemeral(kResponderIndex, kNowNs, jar_to_initiator, resp,
                                                  kResponderEphemeral);
    ASSERT_TRUE(rkp.ok());
    EXPECT_EQ(to_hex(resp), v.response);
    EXPECT_EQ(to_hex(rkp->recv_key), v.initiator_send_key);
    EXPECT_EQ(to_hex(rkp->send_key), v.initiator_recv_key);

    const auto reference_resp = from_hex(v.response);
    auto ikp = ih->consume_response(reference_resp, kNowNs);
    ASSERT_TRUE(ikp.ok()) << ikp.error().message();
    EXPECT_EQ(to_hex(ikp->send_key), v.initiator_send_key);
    EXPECT_EQ(to_hex(ikp->recv_key), v.initiator_recv_key);

    const auto data = payload();
    std::vector<uint8_t> wire(transport_message_size(data.size()));
    ASSERT_EQ(seal_transport(ikp->send_key, kResponderIndex, 7, data, wire), wire.size());
    EXPECT_EQ(to_hex(wire), v.transport_counter7);
    const auto reference_data = from_hex(v.transport_counter7);
    const auto parsed = parse_transport(reference_data);
    ASSERT_TRUE(parsed.ok());
    std::vector<uint8_t> plain(parsed.view.padded_plaintext_size());
    ASSERT_TRUE(open_transport(rkp->recv_key, parsed.view, plain).ok());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), plain.begin()));
}

TEST(HandshakeKnownAnswer, MatchesIndependentReferenceWithoutPsk) {
    run_vector(kNoPsk, Key{});
}

TEST(HandshakeKnownAnswer, MatchesIndependentReferenceWithPsk) {
    Key psk;
    psk.fill(0x5a);
    run_vector(kWithPsk, psk);
}

}  // namespace
}  // namespace jg::proto
