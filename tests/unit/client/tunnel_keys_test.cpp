#include "client/tunnel_keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "proto/cookie.hpp"
#include "proto/transport.hpp"

namespace jg::client {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kUnixNs = 1'800'000'000ull * 1'000'000'000ull;

// A lib/proto responder standing in for the gateway's control core.
struct Gateway {
    proto::StaticIdentity identity = proto::StaticIdentity::generate();
    proto::PeerHandshakeState peer;
    proto::TransportKeypair keys{};
    uint64_t counter = 0;

    Result<std::array<uint8_t, proto::kResponseSize>> respond(std::span<const uint8_t> init,
                                                              uint64_t now_ns, uint32_t index) {
        auto hs = proto::ResponderHandshake::consume_initiation(
            identity, init,
            [&](const proto::Key &k) { return k == peer.public_key ? &peer : nullptr; }, now_ns);
        if (!hs)
            return hs.error();
        proto::CookieJar jar(peer.public_key);
        std::array<uint8_t, proto::kResponseSize> out{};
        auto kp = hs->create_response(index, now_ns, jar, out);
        if (!kp)
            return kp.error();
        keys = *kp;
        return out;
    }
    std::vector<uint8_t> seal(std::span<const uint8_t> plaintext) {
        std::vector<uint8_t> out(proto::transport_message_size(plaintext.size()));
        out.resize(
            proto::seal_transport(keys.send_key, keys.remote_index, counter++, plaintext, out));
        return out;
    }
    std::optional<std::vector<uint8_t>> open(std::span<const uint8_t> msg) {
        const auto parsed = proto::parse_transport(msg);
        if (!parsed.ok() || parsed.view.receiver_index() != keys.local_index)
            return std::nullopt;
        std::vector<uint8_t> out(parsed.view.padded_plaintext_size());
        auto n = proto::open_transport(keys.recv_key, parsed.view, out);
        if (!n)
            return std::nullopt;
        out.resize(*n);
        return out;
    }
};

class TunnelKeysTest : public ::testing::Test {
  protected:
    TunnelKeysTest() : client_id_(proto::StaticIdentity::generate()) {
        gw_.peer.public_key = client_id_.public_key();
    }
    proto::StaticIdentity client_id_;
    Gateway gw_;
};

TEST_F(TunnelKeysTest, HandshakeThenTrafficBothWaysWithReplayRefused) {
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    EXPECT_FALSE(keys.has_keys());
    EXPECT_TRUE(keys.seal(std::vector<uint8_t>{1}).empty());
    auto init = keys.start_handshake(kUnixNs, 1000 * kMs);
    ASSERT_TRUE(init);
    EXPECT_TRUE(keys.handshake_in_flight());
    auto resp = gw_.respond(*init, 1000 * kMs, 0x1234);
    ASSERT_TRUE(resp) << resp.error().message();
    EXPECT_EQ(keys.consume_reply(*resp, 1001 * kMs), ReplyOutcome::completed);
    EXPECT_TRUE(keys.has_keys());
    EXPECT_FALSE(keys.handshake_in_flight());
    EXPECT_EQ(keys.completed_handshakes(), 1u);
    // The same response again belongs to no handshake in flight.
    EXPECT_EQ(keys.consume_reply(*resp, 1001 * kMs), ReplyOutcome::ignored);

    const std::vector<uint8_t> up = {0x45, 0, 0, 20};
    auto sealed = keys.seal(up);
    auto at_gw = gw_.open(sealed);
    ASSERT_TRUE(at_gw);
    EXPECT_EQ(std::vector<uint8_t>(at_gw->begin(), at_gw->begin() + 4), up);

    const std::vector<uint8_t> down = {0x04, 9, 9};
    auto msg = gw_.seal(down);
    auto opened = keys.open(msg, 1002 * kMs);
    ASSERT_TRUE(opened);
    EXPECT_EQ(std::vector<uint8_t>(opened->plaintext.begin(), opened->plaintext.begin() + 3), down);
    EXPECT_FALSE(keys.open(msg, 1002 * kMs)) << "a replayed counter must be refused";
    msg = gw_.seal(down);
    msg.back() ^= 1;
    EXPECT_FALSE(keys.open(msg, 1002 * kMs)) << "a forged tag must be refused";
}

TEST_F(TunnelKeysTest, WrongGatewayKeyNeverCompletes) {
    Gateway other;
    other.peer.public_key = client_id_.public_key();
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    auto init = keys.start_handshake(kUnixNs, 1000 * kMs);
    ASSERT_TRUE(init);
    // The initiation is sealed to gw_, so another responder cannot even read it.
    EXPECT_FALSE(other.respond(*init, 1000 * kMs, 7));
}

TEST_F(TunnelKeysTest, PresharedKeyMustMatchTheGateways) {
    const SecretKey psk = generate_preshared_key();
    std::copy(psk.bytes().begin(), psk.bytes().end(), gw_.peer.psk.begin());
    TunnelKeys keys(client_id_, gw_.identity.public_key(), psk);
    auto init = keys.start_handshake(kUnixNs, 1000 * kMs);
    ASSERT_TRUE(init);
    auto resp = gw_.respond(*init, 1000 * kMs, 3);
    ASSERT_TRUE(resp) << resp.error().message();
    EXPECT_EQ(keys.consume_reply(*resp, 1001 * kMs), ReplyOutcome::completed);

    TunnelKeys without(client_id_, gw_.identity.public_key(), SecretKey{});
    auto init2 = without.start_handshake(kUnixNs + 1000 * kMs, 2000 * kMs);
    ASSERT_TRUE(init2);
    auto resp2 = gw_.respond(*init2, 2000 * kMs, 4);
    ASSERT_TRUE(resp2) << resp2.error().message();  // the psk enters only message 2's key
    EXPECT_EQ(without.consume_reply(*resp2, 2001 * kMs), ReplyOutcome::ignored);
}

// A cookie reply adds mac2 to the next initiation; it neither ends the attempt in flight
// (anyone who saw the initiation can forge one) nor counts unless addressed to that attempt.
TEST_F(TunnelKeysTest, CookieReplyKeepsTheAttemptInFlightAndMustNameItsSenderIndex) {
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    auto init = keys.start_handshake(kUnixNs, 1000 * kMs);
    ASSERT_TRUE(init);
    proto::CookieChecker checker(gw_.identity.public_key());
    const std::array<uint8_t, 4> ip = {192, 0, 2, 2};
    const proto::SourceAddress src = proto::source_address_v4(ip, 40000);
    auto cookie = checker.create_reply(*init, src.span(), 1000 * kMs);
    ASSERT_TRUE(cookie) << cookie.error().message();

    auto misaddressed = *cookie;
    misaddressed[proto::cookie_reply_off::receiver] ^= 1;
    EXPECT_EQ(keys.consume_reply(misaddressed, 1001 * kMs), ReplyOutcome::ignored);
    EXPECT_EQ(keys.consume_reply(*cookie, 1001 * kMs), ReplyOutcome::cookie_stored);
    EXPECT_TRUE(keys.handshake_in_flight());

    // The response to the initiation the cookie answered still completes it.
    auto resp = gw_.respond(*init, 1002 * kMs, 0x55);
    ASSERT_TRUE(resp) << resp.error().message();
    EXPECT_EQ(keys.consume_reply(*resp, 1003 * kMs), ReplyOutcome::completed);

    // The retransmit after that carries the cookie as mac2: the loaded gateway lets it in.
    auto init2 = keys.start_handshake(kUnixNs + 5'000 * kMs, 6'000 * kMs);
    ASSERT_TRUE(init2);
    EXPECT_EQ(checker.check(*init2, src.span(), true, 6'000 * kMs), proto::MacVerdict::ok);
    // Without the cookie the same gateway would have answered with another cookie reply.
    EXPECT_EQ(checker.check(*init, src.span(), true, 6'000 * kMs), proto::MacVerdict::need_cookie);
}

// The gateway binds a cookie to the IP:port it came from: a cookie learned on one path is
// used for mac2 only on that path. Retransmits take turns over the paths; had path 1 used
// path 0's cookie, its mac2 would be invalid and draw another cookie reply, forever.
TEST_F(TunnelKeysTest, CookieIsUsedOnlyOnThePathItCameFrom) {
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    proto::CookieChecker checker(gw_.identity.public_key());
    const std::array<uint8_t, 4> ip_a = {192, 0, 2, 2};
    const std::array<uint8_t, 4> ip_b = {198, 51, 100, 2};
    const proto::SourceAddress src_a = proto::source_address_v4(ip_a, 40000);
    const proto::SourceAddress src_b = proto::source_address_v4(ip_b, 40001);
    const auto mac2_zero = [](std::span<const uint8_t> init) {
        const auto mac2 = init.subspan(proto::initiation_off::mac2, proto::kMacSize);
        return std::all_of(mac2.begin(), mac2.end(), [](uint8_t b) { return b == 0; });
    };

    auto on_a = keys.start_handshake(kUnixNs, 1000 * kMs, 0);
    ASSERT_TRUE(on_a);
    auto cookie_a = checker.create_reply(*on_a, src_a.span(), 1000 * kMs);
    ASSERT_TRUE(cookie_a) << cookie_a.error().message();
    ASSERT_EQ(keys.consume_reply(*cookie_a, 1001 * kMs, 0), ReplyOutcome::cookie_stored);

    // The retransmit on path 1 carries no mac2 (path 0's cookie means nothing there).
    auto on_b = keys.start_handshake(kUnixNs + 5'000 * kMs, 6'000 * kMs, 1);
    ASSERT_TRUE(on_b);
    EXPECT_TRUE(mac2_zero(*on_b)) << "path 0's cookie used on path 1";
    auto cookie_b = checker.create_reply(*on_b, src_b.span(), 6'000 * kMs);
    ASSERT_TRUE(cookie_b) << cookie_b.error().message();
    ASSERT_EQ(keys.consume_reply(*cookie_b, 6'001 * kMs, 1), ReplyOutcome::cookie_stored);

    // Each path's next initiation passes the loaded gateway from its own address.
    auto again_a = keys.start_handshake(kUnixNs + 10'000 * kMs, 11'000 * kMs, 0);
    ASSERT_TRUE(again_a);
    EXPECT_EQ(checker.check(*again_a, src_a.span(), true, 11'000 * kMs), proto::MacVerdict::ok);
    auto again_b = keys.start_handshake(kUnixNs + 15'000 * kMs, 16'000 * kMs, 1);
    ASSERT_TRUE(again_b);
    EXPECT_EQ(checker.check(*again_b, src_b.span(), true, 16'000 * kMs), proto::MacVerdict::ok);
    EXPECT_EQ(checker.check(*again_b, src_a.span(), true, 16'000 * kMs),
              proto::MacVerdict::need_cookie);
}

// The system clock stepped back an hour between two handshakes: the gateway refuses a TAI64N
// timestamp not above the greatest it saw, so the second initiation must still carry a later
// one or every handshake fails until wall time catches up.
TEST_F(TunnelKeysTest, HandshakeTimestampsKeepRisingAcrossABackwardClockStep) {
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    auto init = keys.start_handshake(kUnixNs, 1000 * kMs);
    ASSERT_TRUE(init);
    auto resp = gw_.respond(*init, 1000 * kMs, 1);
    ASSERT_TRUE(resp) << resp.error().message();
    ASSERT_EQ(keys.consume_reply(*resp, 1001 * kMs), ReplyOutcome::completed);

    auto init2 = keys.start_handshake(kUnixNs - 3'600'000 * kMs, 2000 * kMs);
    ASSERT_TRUE(init2);
    auto resp2 = gw_.respond(*init2, 2000 * kMs, 2);
    ASSERT_TRUE(resp2) << resp2.error().message();
    EXPECT_EQ(keys.consume_reply(*resp2, 2001 * kMs), ReplyOutcome::completed);
}

TEST_F(TunnelKeysTest, RekeyIsDueAfterRekeyAfterTimeAndKeysExpireAfterRejectAfterTime) {
    TunnelKeys keys(client_id_, gw_.identity.public_key(), SecretKey{});
    const uint64_t t0 = 1000 * kMs;
    auto init = keys.start_handshake(kUnixNs, t0);
    ASSERT_TRUE(init);
    auto resp = gw_.respond(*init, t0, 1);
    ASSERT_TRUE(resp);
    ASSERT_EQ(keys.consume_reply(*resp, t0), ReplyOutcome::completed);
    EXPECT_FALSE(keys.needs_rekey(t0 + 119'000 * kMs));
    EXPECT_TRUE(keys.needs_rekey(t0 + 121'000 * kMs));

    // A second handshake rotates: traffic under the old keypair still opens (previous).
    auto old_msg = gw_.seal(std::vector<uint8_t>{});
    auto init2 = keys.start_handshake(kUnixNs + 121'000 * kMs, t0 + 121'000 * kMs);
    ASSERT_TRUE(init2);
    Gateway &g = gw_;
    auto resp2 = g.respond(*init2, t0 + 121'000 * kMs, 2);
    ASSERT_TRUE(resp2) << resp2.error().message();
    ASSERT_EQ(keys.consume_reply(*resp2, t0 + 121'000 * kMs), ReplyOutcome::completed);
    EXPECT_EQ(keys.completed_handshakes(), 2u);
    EXPECT_FALSE(keys.needs_rekey(t0 + 122'000 * kMs));
    EXPECT_FALSE(keys.expire(t0 + 122'000 * kMs));
    // Everything is gone once the newest keypair passes REJECT_AFTER_TIME.
    EXPECT_TRUE(keys.expire(t0 + 121'000 * kMs + 181'000 * kMs));
    EXPECT_FALSE(keys.has_keys());
    (void)old_msg;
}

}  // namespace
}  // namespace jg::client
