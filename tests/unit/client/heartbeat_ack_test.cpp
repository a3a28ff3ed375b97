// HEARTBEAT_ACK values the client did not cause are refused, and health figures always fit
// HEARTBEAT's integer fields.
#include "client/heartbeat_ack.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace jg::client {
namespace {

proto::HeartbeatAck ack(uint32_t seq, uint64_t echo_ts_ms, uint8_t path_id = 2) {
    proto::HeartbeatAck a;
    a.seq = seq;
    a.echo_ts_ms = echo_ts_ms;
    a.path_id = path_id;
    return a;
}

// Heartbeats 1..n sent on path 2, heartbeat k at k * 1000 + 9000 ms.
HeartbeatSequence sent(uint32_t n) {
    HeartbeatSequence seq;
    seq.path_id = 2;
    for (uint32_t k = 1; k <= n; ++k)
        seq.send(int64_t(k) * 1'000 + 9'000);
    return seq;
}

TEST(HeartbeatAck, CountsRttAndTheHeartbeatsMissingBetweenAcks) {
    HeartbeatSequence seq = sent(5);
    auto s = take_heartbeat_ack(ack(1, 10'000), seq, 10'040);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rtt_ms, 40.0);
    EXPECT_EQ(s->lost, 0u);
    s = take_heartbeat_ack(ack(4, 13'000), seq, 13'025);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lost, 2u);
    EXPECT_EQ(seq.last_acked_seq, 4u);
    // A late ack of an earlier heartbeat is still an RTT sample, not a loss.
    s = take_heartbeat_ack(ack(3, 12'000), seq, 13'030);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lost, 0u);
    EXPECT_EQ(seq.last_acked_seq, 4u);
}

// A path that was dead for a while and answers again reports only the losses inside the loss
// window, not every heartbeat since its last ack.
TEST(HeartbeatAck, LossesBeforeTheLossWindowAreNotCounted) {
    HeartbeatSequence seq = sent(12);  // heartbeat k at k * 1000 + 9000 ms
    ASSERT_TRUE(take_heartbeat_ack(ack(1, 10'000), seq, 10'040, 2'000));
    // 2..10 unanswered; 11 (sent at 20,000) answered: only 9 and 10 (18,000 and 19,000) are
    // inside the 2,000 ms window before it.
    auto s = take_heartbeat_ack(ack(11, 20'000), seq, 20'030, 2'000);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lost, 2u);
    // Without a window every remembered heartbeat between the acks counts.
    HeartbeatSequence all = sent(12);
    ASSERT_TRUE(take_heartbeat_ack(ack(1, 10'000), all, 10'040));
    EXPECT_EQ(take_heartbeat_ack(ack(11, 20'000), all, 20'030)->lost, 9u);
    // Heartbeats the ring no longer remembers count when the oldest it remembers is inside the
    // window (a short interval: 100 heartbeats 1 ms apart, all lost but the last)...
    HeartbeatSequence ring = sent(2);
    ASSERT_TRUE(take_heartbeat_ack(ack(1, 10'000), ring, 10'040));
    for (int i = 0; i < 100; ++i)
        ring.send(20'000 + i);
    const uint32_t last = ring.next_seq - 1;  // 102, sent at 20,099
    EXPECT_EQ(take_heartbeat_ack(ack(last, 20'099), ring, 20'100, 2'000)->lost, 100u)
        << "2 (sent at 11,000, in the window by the oldest remembered) .. 101";
    // ... and not when even the oldest remembered left the window (a path dead for long).
    HeartbeatSequence slow = sent(2);
    ASSERT_TRUE(take_heartbeat_ack(ack(1, 10'000), slow, 10'040));
    for (int i = 0; i < 100; ++i)
        slow.send(20'000 + 1'000 * i);
    const uint32_t newest = slow.next_seq - 1;  // sent at 119,000
    EXPECT_EQ(take_heartbeat_ack(ack(newest, 119'000), slow, 119'010, 2'000)->lost, 2u)
        << "only the two sent at 117,000 and 118,000";
}

TEST(HeartbeatAck, RefusesWhatNoHeartbeatOnThisPathCouldHaveCaused) {
    HeartbeatSequence seq = sent(5);
    ASSERT_TRUE(take_heartbeat_ack(ack(3, 12'000), seq, 12'100));
    const int64_t now = 50'000;
    EXPECT_FALSE(take_heartbeat_ack(ack(6, 49'000), seq, now)) << "not sent yet";
    EXPECT_FALSE(take_heartbeat_ack(ack(0xffffffffu, 49'000), seq, now)) << "not sent yet";
    EXPECT_FALSE(take_heartbeat_ack(ack(0, 49'000), seq, now)) << "seq 0 is never sent";
    EXPECT_FALSE(take_heartbeat_ack(ack(5, 14'000, 1), seq, now)) << "another path's";
    EXPECT_FALSE(take_heartbeat_ack(ack(5, 50'001), seq, now)) << "sent in the future";
    // Echoes that would overflow now - echo as signed 64-bit arithmetic.
    EXPECT_FALSE(take_heartbeat_ack(ack(5, std::numeric_limits<uint64_t>::max()), seq, now));
    EXPECT_FALSE(take_heartbeat_ack(ack(5, uint64_t(1) << 63), seq, now));
    // Echoes of a time that heartbeat was not sent at: 0 would make the RTT the timer's age.
    EXPECT_FALSE(take_heartbeat_ack(ack(5, 0), seq, now));
    EXPECT_FALSE(take_heartbeat_ack(ack(5, 13'999), seq, now));
    EXPECT_EQ(seq.last_acked_seq, 3u) << "a refused ack moves nothing";
    EXPECT_TRUE(take_heartbeat_ack(ack(5, 14'000), seq, now));
}

TEST(HeartbeatAck, AcksOfHeartbeatsNoLongerRememberedAreRefused) {
    HeartbeatSequence seq = sent(HeartbeatSequence::kRemembered + 1);
    EXPECT_FALSE(take_heartbeat_ack(ack(1, 10'000), seq, 200'000));
    EXPECT_TRUE(take_heartbeat_ack(ack(2, 11'000), seq, 200'000));
}

TEST(HeartbeatFigures, WireFieldsClampInsteadOfOverflowing) {
    EXPECT_EQ(wire_us(1.5), 1500u);
    EXPECT_EQ(wire_us(-3.0), 0u);
    EXPECT_EQ(wire_us(std::nan("")), 0u);
    EXPECT_EQ(wire_us(1e12), std::numeric_limits<uint32_t>::max());
    EXPECT_EQ(wire_us(std::numeric_limits<double>::infinity()),
              std::numeric_limits<uint32_t>::max());
    EXPECT_EQ(wire_permille(0.0125), 13u);
    EXPECT_EQ(wire_permille(-0.5), 0u);
    EXPECT_EQ(wire_permille(std::nan("")), 0u);
    EXPECT_EQ(wire_permille(7.0), 1000u);
}

}  // namespace
}  // namespace jg::client
