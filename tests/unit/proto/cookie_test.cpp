#include <gtest/gtest.h>

#include "proto/cookie.hpp"
#include "proto/noise.hpp"

namespace jg::proto {
namespace {

constexpr uint64_t kUnixNs = 1'700'000'000ull * kNsPerSecond;
constexpr uint64_t kT0 = 1'000 * kNsPerSecond;  // monotonic

const std::vector<uint8_t> kSrcA = {192, 0, 2, 1, 0xca, 0x6c};  // 192.0.2.1:51820
const std::vector<uint8_t> kSrcB = {192, 0, 2, 1, 0xca, 0x6d};  // same IP, other port

class CookieTest : public ::testing::Test {
  protected:
    CookieTest()
        : initiator(StaticIdentity::generate()),
          responder(StaticIdentity::generate()),
          jar(responder.public_key()),
          checker(responder.public_key()) {
        peer.public_key = initiator.public_key();
    }

    // Builds a fresh initiation at wall time `unix_ns` through the jar.
    std::optional<InitiatorHandshake> send_initiation(uint64_t unix_ns, uint64_t now_ns) {
        auto hs = InitiatorHandshake::create_initiation(initiator, responder.public_key(), Key{},
                                                        0xabcdef01, unix_ns, now_ns, jar, msg);
        if (!hs.ok())
            return std::nullopt;
        return std::move(hs).value();
    }

    bool mac2_is_zero() const {
        return std::all_of(msg.begin() + initiation_off::mac2, msg.end(),
                           [](uint8_t b) { return b == 0; });
    }

    StaticIdentity initiator;
    StaticIdentity responder;
    CookieJar jar;
    CookieChecker checker;
    PeerHandshakeState peer;
    std::array<uint8_t, kInitiationSize> msg{};
};

TEST_F(CookieTest, NotUnderLoadMac1SufficesAndMac2IsIgnored) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    EXPECT_TRUE(mac2_is_zero());
    EXPECT_EQ(checker.check(msg, kSrcA, false, kT0), MacVerdict::ok);
}

TEST_F(CookieTest, UnderLoadWithoutMac2DemandsCookie) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    EXPECT_EQ(checker.check(msg, kSrcA, true, kT0), MacVerdict::need_cookie);
}

TEST_F(CookieTest, CookieRoundTripLetsTheRetryPassMac2) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    ASSERT_EQ(checker.check(msg, kSrcA, true, kT0), MacVerdict::need_cookie);
    auto reply = checker.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(reply.ok());
    const auto parsed = parse_cookie_reply(*reply);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.view.receiver_index(), 0xabcdef01u);

    ASSERT_TRUE(jar.consume_reply(*reply, kT0 + kNsPerMs).ok());
    EXPECT_TRUE(jar.has_fresh_cookie(kT0 + kNsPerMs));

    ASSERT_TRUE(send_initiation(kUnixNs + kNsPerSecond, kT0 + 2 * kNsPerMs));
    EXPECT_FALSE(mac2_is_zero());
    EXPECT_EQ(checker.check(msg, kSrcA, true, kT0 + 3 * kNsPerMs), MacVerdict::ok);
    // The cookie is bound to the source address and port.
    EXPECT_EQ(checker.check(msg, kSrcB, true, kT0 + 3 * kNsPerMs), MacVerdict::need_cookie);
    // And the retry is a valid handshake.
    auto lookup = [this](const Key &) { return &peer; };
    EXPECT_TRUE(
        ResponderHandshake::consume_initiation(responder, msg, lookup, kT0 + 3 * kNsPerMs).ok());
}

TEST_F(CookieTest, CookieReplyToBadMac1IsNotProducedForNonHandshakeSizes) {
    std::vector<uint8_t> junk(100, 0);
    EXPECT_FALSE(checker.create_reply(junk, kSrcA, kT0).ok());
    EXPECT_EQ(checker.check(junk, kSrcA, true, kT0), MacVerdict::bad_mac1);
}

TEST_F(CookieTest, ReplyIsOnlyAcceptedForTheLastMessageSent) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    auto reply = checker.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(reply.ok());
    // A newer initiation changes mac1, which is the reply's AD.
    ASSERT_TRUE(send_initiation(kUnixNs + kNsPerSecond, kT0 + kNsPerMs));
    EXPECT_FALSE(jar.consume_reply(*reply, kT0 + kNsPerMs).ok());
    EXPECT_FALSE(jar.has_fresh_cookie(kT0 + kNsPerMs));
}

TEST_F(CookieTest, ReplyIsAcceptedOnceAndTamperedRepliesAreNot) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    auto reply = checker.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(reply.ok());
    auto tampered = *reply;
    tampered[cookie_reply_off::encrypted_cookie] ^= 1;
    EXPECT_FALSE(jar.consume_reply(tampered, kT0).ok());
    auto bad_nonce = *reply;
    bad_nonce[cookie_reply_off::nonce] ^= 1;
    EXPECT_FALSE(jar.consume_reply(bad_nonce, kT0).ok());
    EXPECT_TRUE(jar.consume_reply(*reply, kT0).ok());
    EXPECT_FALSE(jar.consume_reply(*reply, kT0).ok());
}

TEST_F(CookieTest, ReplyFromAnotherResponderKeyDoesNotDecrypt) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    CookieChecker other(StaticIdentity::generate().public_key());
    // The other checker would refuse mac1, but even a reply it builds cannot be opened.
    auto reply = other.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(reply.ok());
    EXPECT_FALSE(jar.consume_reply(*reply, kT0).ok());
}

TEST_F(CookieTest, CookieExpiresAfter120SecondsAtTheInitiator) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    auto reply = checker.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(jar.consume_reply(*reply, kT0).ok());
    EXPECT_TRUE(jar.has_fresh_cookie(kT0 + kCookieValidNs - 1));
    EXPECT_FALSE(jar.has_fresh_cookie(kT0 + kCookieValidNs));
    ASSERT_TRUE(send_initiation(kUnixNs + 200 * kNsPerSecond, kT0 + kCookieValidNs));
    EXPECT_TRUE(mac2_is_zero());
}

TEST_F(CookieTest, SecretRotationInvalidatesOldCookies) {
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    auto reply = checker.create_reply(msg, kSrcA, kT0);
    ASSERT_TRUE(jar.consume_reply(*reply, kT0).ok());
    const uint64_t later = kT0 + 60 * kNsPerSecond;
    ASSERT_TRUE(send_initiation(kUnixNs + kNsPerSecond, later));
    EXPECT_EQ(checker.check(msg, kSrcA, true, later), MacVerdict::ok);

    // Past the secret's lifetime the checker no longer trusts any cookie...
    const uint64_t after_rotation = kT0 + kCookieSecretMaxAgeNs + kNsPerSecond;
    EXPECT_EQ(checker.check(msg, kSrcA, true, after_rotation), MacVerdict::need_cookie);
    // ...and the next reply is made with a new secret, under which the old cookie fails.
    auto fresh = checker.create_reply(msg, kSrcA, after_rotation);
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(checker.check(msg, kSrcA, true, after_rotation), MacVerdict::need_cookie);
    ASSERT_TRUE(jar.consume_reply(*fresh, after_rotation).ok());
    ASSERT_TRUE(send_initiation(kUnixNs + 2 * kNsPerSecond, after_rotation));
    EXPECT_EQ(checker.check(msg, kSrcA, true, after_rotation), MacVerdict::ok);
}

TEST_F(CookieTest, ResponseMessagesCarryMacsToo) {
    CookieJar to_initiator(initiator.public_key());
    CookieChecker at_initiator(initiator.public_key());
    std::array<uint8_t, kResponseSize> resp{};
    resp[0] = 2;
    to_initiator.add_macs(resp, kT0);
    EXPECT_EQ(at_initiator.check(resp, kSrcA, false, kT0), MacVerdict::ok);
    EXPECT_EQ(checker.check(resp, kSrcA, false, kT0), MacVerdict::bad_mac1);
}

TEST(SourceAddress, EncodesAddressThenBigEndianPort) {
    const uint8_t v4[4] = {192, 0, 2, 1};
    const auto a = source_address_v4(v4, 51820);
    ASSERT_EQ(a.span().size(), 6u);
    EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), kSrcA.begin()));
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    v6[15] = 1;
    const auto b = source_address_v6(v6, 0x0102);
    ASSERT_EQ(b.span().size(), 18u);
    EXPECT_EQ(b.span()[0], 0x20);
    EXPECT_EQ(b.span()[15], 1);
    EXPECT_EQ(b.span()[16], 0x01);
    EXPECT_EQ(b.span()[17], 0x02);
}

TEST_F(CookieTest, CookieForIpv4SourceDoesNotValidateForIpv6Source) {
    const uint8_t v4[4] = {192, 0, 2, 1};
    uint8_t v6[16] = {};
    v6[10] = v6[11] = 0xff;  // the IPv4-mapped form of the same address
    std::copy(v4, v4 + 4, v6 + 12);
    const auto src4 = source_address_v4(v4, 4000);
    const auto src6 = source_address_v6(v6, 4000);
    ASSERT_TRUE(send_initiation(kUnixNs, kT0));
    auto reply = checker.create_reply(msg, src4.span(), kT0);
    ASSERT_TRUE(reply.ok());
    ASSERT_TRUE(jar.consume_reply(*reply, kT0).ok());
    ASSERT_TRUE(send_initiation(kUnixNs + kNsPerSecond, kT0));
    EXPECT_EQ(checker.check(msg, src4.span(), true, kT0), MacVerdict::ok);
    EXPECT_EQ(checker.check(msg, src6.span(), true, kT0), MacVerdict::need_cookie);
}

TEST(MacVerdict, HasNames) {
    EXPECT_EQ(mac_verdict_name(MacVerdict::need_cookie), "need_cookie");
    EXPECT_EQ(mac_verdict_name(MacVerdict::bad_mac1), "bad_mac1");
}

}  // namespace
}  // namespace jg::proto
