#include <gtest/gtest.h>

#include "proto/keypairs.hpp"

namespace jg::proto {
namespace {

constexpr uint64_t kT0 = 10'000 * kNsPerSecond;

TransportKeypair keypair(uint32_t local_index, bool initiator, uint64_t created = kT0) {
    TransportKeypair kp{};
    kp.send_key.fill(uint8_t(local_index));
    kp.recv_key.fill(uint8_t(local_index + 100));
    kp.local_index = local_index;
    kp.remote_index = local_index + 1000;
    kp.created_ns = created;
    kp.is_initiator = initiator;
    return kp;
}

TEST(KeypairSlots, ResponderKeypairWaitsInNextUntilConfirmed) {
    KeypairSlots s;
    EXPECT_TRUE(s.install(keypair(1, false)).empty());
    EXPECT_EQ(s.current(), nullptr);
    ASSERT_NE(s.next(), nullptr);
    EXPECT_EQ(s.next()->local_index, 1u);

    bool rotated = false;
    EXPECT_EQ(s.confirm(99, &rotated), std::nullopt);
    EXPECT_FALSE(rotated);
    EXPECT_EQ(s.confirm(1, &rotated), std::nullopt);  // nothing died
    EXPECT_TRUE(rotated);
    ASSERT_NE(s.current(), nullptr);
    EXPECT_EQ(s.current()->local_index, 1u);
    EXPECT_EQ(s.next(), nullptr);
}

TEST(KeypairSlots, ConfirmationKeepsOldCurrentAsPreviousAndDropsOlderPrevious) {
    KeypairSlots s;
    s.install(keypair(1, false));
    s.confirm(1);
    s.install(keypair(2, false));
    EXPECT_EQ(s.current()->local_index, 1u);
    EXPECT_EQ(s.confirm(2), std::nullopt);
    EXPECT_EQ(s.previous()->local_index, 1u);
    EXPECT_EQ(s.current()->local_index, 2u);
    // Third rotation: keypair 1 dies; its index is handed back for release.
    auto dead = s.install(keypair(3, false));
    EXPECT_EQ(dead, std::vector<uint32_t>{1u});  // the responder clears previous
    EXPECT_EQ(s.previous(), nullptr);
    EXPECT_EQ(s.confirm(3), std::nullopt);
    EXPECT_EQ(s.previous()->local_index, 2u);
    EXPECT_EQ(s.current()->local_index, 3u);
}

TEST(KeypairSlots, InitiatorKeypairBecomesCurrentAtOnce) {
    KeypairSlots s;
    EXPECT_TRUE(s.install(keypair(1, true)).empty());
    EXPECT_EQ(s.current()->local_index, 1u);
    EXPECT_TRUE(s.install(keypair(2, true)).empty());
    EXPECT_EQ(s.previous()->local_index, 1u);
    EXPECT_EQ(s.current()->local_index, 2u);
    EXPECT_EQ(s.install(keypair(3, true)), std::vector<uint32_t>{1u});
    EXPECT_EQ(s.previous()->local_index, 2u);
}

TEST(KeypairSlots, InitiatorInstallDemotesPendingNextToPrevious) {
    KeypairSlots s;
    s.install(keypair(1, true));
    s.install(keypair(2, false));  // both sides initiated; ours completes after theirs
    auto dead = s.install(keypair(3, true));
    EXPECT_EQ(dead, std::vector<uint32_t>{1u});
    EXPECT_EQ(s.previous()->local_index, 2u);
    EXPECT_EQ(s.current()->local_index, 3u);
    EXPECT_EQ(s.next(), nullptr);
}

TEST(KeypairSlots, FindsKeypairsInEveryOccupiedSlot) {
    KeypairSlots s;
    s.install(keypair(1, true));
    s.install(keypair(2, true));
    EXPECT_EQ(s.find(1), s.previous());
    EXPECT_EQ(s.find(2), s.current());
    // A responder install clears previous, so a keypair is never held in all three slots.
    EXPECT_EQ(s.install(keypair(3, false)), std::vector<uint32_t>{1u});
    EXPECT_EQ(s.find(1), nullptr);
    EXPECT_EQ(s.find(2), s.current());
    EXPECT_EQ(s.find(3), s.next());
    EXPECT_EQ(s.find(42), nullptr);
}

TEST(KeypairSlots, ClearWipesAllSlots) {
    KeypairSlots s;
    s.install(keypair(1, true));
    s.install(keypair(2, false));
    s.clear();
    EXPECT_EQ(s.current(), nullptr);
    EXPECT_EQ(s.next(), nullptr);
    EXPECT_EQ(s.previous(), nullptr);
}

TEST(KeypairSlots, ExpireDropsKeypairsOlderThanRejectAfterTime) {
    KeypairSlots s;
    s.install(keypair(1, true, kT0));
    s.install(keypair(2, true, kT0 + 100 * kNsPerSecond));
    EXPECT_TRUE(s.expire(kT0 + kRejectAfterTimeNs - 1).empty());
    EXPECT_EQ(s.expire(kT0 + kRejectAfterTimeNs), std::vector<uint32_t>{1u});
    EXPECT_EQ(s.previous(), nullptr);
    ASSERT_NE(s.current(), nullptr);
    EXPECT_EQ(s.expire(kT0 + 100 * kNsPerSecond + kRejectAfterTimeNs), std::vector<uint32_t>{2u});
    EXPECT_EQ(s.current(), nullptr);
}

TEST(KeypairSlots, NextExpiryIsWhenExpireFirstDropsAKeypair) {
    KeypairSlots s;
    EXPECT_EQ(s.next_expiry_ns(), std::nullopt);
    s.install(keypair(1, true, kT0));
    s.install(keypair(2, true, kT0 + 100 * kNsPerSecond));
    ASSERT_EQ(s.next_expiry_ns(), kT0 + kRejectAfterTimeNs);
    EXPECT_TRUE(s.expire(*s.next_expiry_ns() - 1).empty());
    EXPECT_EQ(s.expire(*s.next_expiry_ns()), std::vector<uint32_t>{1u});
    EXPECT_EQ(s.next_expiry_ns(), kT0 + 100 * kNsPerSecond + kRejectAfterTimeNs);
}

TEST(KeypairLimits, ExpiredByTimeOrByMessageCount) {
    const auto kp = keypair(1, false, kT0);
    EXPECT_FALSE(keypair_expired(kp, 0, kT0 + kRejectAfterTimeNs - 1));
    EXPECT_TRUE(keypair_expired(kp, 0, kT0 + kRejectAfterTimeNs));
    EXPECT_FALSE(keypair_expired(kp, kRejectAfterMessages - 1, kT0));
    EXPECT_TRUE(keypair_expired(kp, kRejectAfterMessages, kT0));
}

TEST(KeypairLimits, RekeyOnSendAfterMessagesForBothAndAfterTimeForInitiatorOnly) {
    const auto init = keypair(1, true, kT0);
    const auto resp = keypair(2, false, kT0);
    EXPECT_FALSE(keypair_needs_rekey_on_send(init, 10, kT0 + kRekeyAfterTimeNs));
    EXPECT_TRUE(keypair_needs_rekey_on_send(init, 10, kT0 + kRekeyAfterTimeNs + 1));
    EXPECT_FALSE(keypair_needs_rekey_on_send(resp, 10, kT0 + kRekeyAfterTimeNs + 1));
    EXPECT_TRUE(keypair_needs_rekey_on_send(resp, kRekeyAfterMessages + 1, kT0));
    EXPECT_FALSE(keypair_needs_rekey_on_send(resp, kRekeyAfterMessages, kT0));
}

TEST(KeypairLimits, RekeyOnReceiveBeforeRejectMinusKeepaliveMinusRekeyTimeout) {
    const auto init = keypair(1, true, kT0);
    const uint64_t edge = kT0 + kRejectAfterTimeNs - kKeepaliveTimeoutNs - kRekeyTimeoutNs;
    EXPECT_FALSE(keypair_needs_rekey_on_receive(init, edge));
    EXPECT_TRUE(keypair_needs_rekey_on_receive(init, edge + 1));
    EXPECT_FALSE(keypair_needs_rekey_on_receive(keypair(2, false, kT0), edge + 1));
}

}  // namespace
}  // namespace jg::proto
