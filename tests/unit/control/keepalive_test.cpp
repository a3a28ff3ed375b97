// Passive keepalives: the timer rule on its own (time injected), then the directory queueing
// empty plaintexts to a stock peer's owner worker from the sampled slot counters.
#include "control/passive_keepalive.hpp"
#include "control_fixture.hpp"

namespace jg::control::test {
namespace {

constexpr uint64_t kKeepaliveBytes = proto::kTransportMinSize;  // 32
constexpr uint64_t kSmallDataBytes = proto::kTransportMinSize + 16;
constexpr int64_t kT0 = 1'000'000;

TrafficDelta data_in(uint64_t packets = 1, uint64_t bytes_each = 128) {
    return {packets, packets * bytes_each, 0};
}
TrafficDelta keepalives_in(uint64_t packets) {
    return {packets, packets * kKeepaliveBytes, 0};
}
TrafficDelta sent(uint64_t packets) {
    return {0, 0, packets};
}

// ---- the rule ----

TEST(KeepaliveRule, SizesTellKeepalivesFromData) {
    EXPECT_FALSE(received_data({}));
    EXPECT_FALSE(received_data(keepalives_in(1)));
    EXPECT_FALSE(received_data(keepalives_in(1000)));
    EXPECT_TRUE(received_data(data_in(1, kSmallDataBytes)));
    // Two keepalives and the smallest data packet in one tick.
    EXPECT_TRUE(received_data({3, 2 * kKeepaliveBytes + kSmallDataBytes, 0}));
}

TEST(KeepaliveRule, DataUnansweredForTheTimeoutSendsOneKeepalive) {
    KeepaliveStep s = keepalive_step({}, data_in(), kT0);
    EXPECT_FALSE(s.send);
    EXPECT_EQ(s.next.due_ms, kT0 + kKeepaliveTimeoutMs);
    s = keepalive_step(s.next, {}, kT0 + kKeepaliveTimeoutMs - 1);
    EXPECT_FALSE(s.send);
    s = keepalive_step(s.next, {}, kT0 + kKeepaliveTimeoutMs);
    EXPECT_TRUE(s.send);
    EXPECT_EQ(s.next.due_ms, kNever);
    // The keepalive itself shows up as sent at the next tick; nothing more follows.
    s = keepalive_step(s.next, sent(1), kT0 + kKeepaliveTimeoutMs + 10);
    for (int64_t t = kT0 + kKeepaliveTimeoutMs + 20; t < kT0 + 60'000; t += 10) {
        s = keepalive_step(s.next, {}, t);
        ASSERT_FALSE(s.send) << "at " << t - kT0 << " ms";
    }
}

TEST(KeepaliveRule, AnythingSentBeforeTheTimeoutAnswersTheData) {
    KeepaliveStep s = keepalive_step({}, data_in(), kT0);
    s = keepalive_step(s.next, sent(1), kT0 + 3'000);
    EXPECT_EQ(s.next.due_ms, kNever);
    for (int64_t t = kT0 + 3'010; t < kT0 + 30'000; t += 10)
        ASSERT_FALSE(keepalive_step(s.next, {}, t).send);
}

TEST(KeepaliveRule, ReceivedKeepalivesArmNothing) {
    PassiveKeepalive k;
    for (int64_t t = kT0; t < kT0 + 60'000; t += 10) {
        const KeepaliveStep s = keepalive_step(k, keepalives_in(t % 1'000 == 0 ? 1 : 0), t);
        ASSERT_FALSE(s.send) << "at " << t - kT0 << " ms";
        k = s.next;
    }
}

TEST(KeepaliveRule, LaterDataDoesNotPostponeTheFirstDeadline) {
    KeepaliveStep s = keepalive_step({}, data_in(), kT0);
    s = keepalive_step(s.next, data_in(), kT0 + 6'000);
    EXPECT_EQ(s.next.due_ms, kT0 + kKeepaliveTimeoutMs);
    EXPECT_TRUE(keepalive_step(s.next, {}, kT0 + kKeepaliveTimeoutMs).send);
}

TEST(KeepaliveRule, SentAndReceivedInOneTickArmsTheTimer) {
    const KeepaliveStep s = keepalive_step({}, {1, 128, 1}, kT0);
    EXPECT_EQ(s.next.due_ms, kT0 + kKeepaliveTimeoutMs);
}

TEST(KeepaliveRule, TheTimeoutIsAParameter) {
    KeepaliveStep s = keepalive_step({}, data_in(), kT0, 100);
    EXPECT_FALSE(keepalive_step(s.next, {}, kT0 + 99, 100).send);
    EXPECT_TRUE(keepalive_step(s.next, {}, kT0 + 100, 100).send);
}

// Two peers running the rule against each other: one data packet gets exactly one keepalive
// back, and that keepalive gets nothing (no endless exchange between idle peers).
TEST(KeepaliveRule, TwoIdlePeersExchangeOneKeepaliveAndStop) {
    PassiveKeepalive a, b;
    TrafficDelta to_a, to_b;  // what each side sees in its next tick
    to_b = data_in();
    to_a = sent(1);
    int sent_by_a = 0, sent_by_b = 0;
    for (int64_t t = kT0; t < kT0 + 120'000; t += 10) {
        const KeepaliveStep sa = keepalive_step(a, to_a, t);
        const KeepaliveStep sb = keepalive_step(b, to_b, t);
        a = sa.next;
        b = sb.next;
        to_a = {};
        to_b = {};
        if (sa.send) {
            ++sent_by_a;
            to_a.tx_packets += 1;
            to_b.rx_packets += 1;
            to_b.rx_bytes += kKeepaliveBytes;
        }
        if (sb.send) {
            ++sent_by_b;
            to_b.tx_packets += 1;
            to_a.rx_packets += 1;
            to_a.rx_bytes += kKeepaliveBytes;
        }
    }
    EXPECT_EQ(sent_by_b, 1);
    EXPECT_EQ(sent_by_a, 0);
}

// ---- the directory ----

class DirectoryKeepalive : public ControlTest {
  protected:
    void SetUp() override {
        start();
        ASSERT_TRUE(handshake(client));
    }
    void receive(uint64_t packets, uint64_t bytes_each) {
        auto &c = dp.slot_counters[slot()];
        c.rx_packets += packets;
        c.rx_bytes += packets * bytes_each;
    }
    void transmit(uint64_t packets) { dp.slot_counters[slot()].tx_packets += packets; }
    // Empty control frames: keepalives.
    std::vector<RecordingDataplane::Frame> keepalives() const {
        std::vector<RecordingDataplane::Frame> out;
        for (const auto &f : dp.control)
            if (f.bytes.empty())
                out.push_back(f);
        return out;
    }
    // Ticks every 10 ms for `ms`, playing the owner worker: each keepalive queued is sent.
    void run_for(int64_t ms) {
        for (int64_t t = 0; t < ms; t += 10) {
            advance(10);
            const size_t before = dp.control.size();
            dir->tick(now);
            transmit(dp.control.size() - before);
        }
    }
};

TEST_F(DirectoryKeepalive, StockPeersDataGetsOneKeepaliveToTheBindingAfterTenSilentSeconds) {
    receive(1, 96);
    // The first tick (10 ms on) sees the packet: the keepalive is due 10 s after that.
    run_for(kKeepaliveTimeoutMs);
    EXPECT_TRUE(keepalives().empty()) << "a keepalive before the timeout";
    run_for(100);  // sessions at rest may be swept a few ticks apart
    const auto sent_frames = keepalives();
    ASSERT_EQ(sent_frames.size(), 1u);
    EXPECT_EQ(sent_frames[0].slot, slot());
    EXPECT_EQ(sent_frames[0].worker, 1);  // the session's owner
    EXPECT_EQ(sent_frames[0].to, kClientAddr);
    EXPECT_EQ(sent_frames[0].next_hop, kRouterMac);
    EXPECT_EQ(dir->stats().keepalives_sent, 1u);
    run_for(60'000);
    EXPECT_EQ(keepalives().size(), 1u);
    // Not an audited event: the log holds what the handshake left, nothing more.
    EXPECT_EQ(audit_types(), (std::vector<std::string>{"SessionCreated", "SessionStateChange"}));
}

TEST_F(DirectoryKeepalive, PeerKeepalivesAreNotAnswered) {
    for (int i = 0; i < 6; ++i) {
        receive(1, kKeepaliveBytes);
        run_for(10'000);
    }
    EXPECT_TRUE(keepalives().empty());
    EXPECT_EQ(dir->stats().keepalives_sent, 0u);
}

TEST_F(DirectoryKeepalive, InsideTrafficToThePeerAnswersItsData) {
    receive(1, 96);
    run_for(4'000);
    transmit(1);  // an inner packet sealed by the worker
    run_for(30'000);
    EXPECT_TRUE(keepalives().empty());
}

TEST_F(DirectoryKeepalive, AHandshakeResponseAnswersEarlierData) {
    receive(1, 96);
    run_for(4'000);
    ASSERT_TRUE(handshake(client));  // rekey: the response is an authenticated packet
    run_for(30'000);
    EXPECT_TRUE(keepalives().empty());
}

TEST_F(DirectoryKeepalive, GoesWhereTheBindingMoved) {
    source_changed(kRoamAddr, kOtherMac);  // legacy roaming
    ASSERT_EQ(dp.bindings[slot()], kRoamAddr);
    receive(1, 96);
    run_for(kKeepaliveTimeoutMs + 100);
    const auto sent_frames = keepalives();
    ASSERT_EQ(sent_frames.size(), 1u);
    EXPECT_EQ(sent_frames[0].to, kRoamAddr);
    EXPECT_EQ(sent_frames[0].next_hop, kOtherMac);
}

}  // namespace
}  // namespace jg::control::test
