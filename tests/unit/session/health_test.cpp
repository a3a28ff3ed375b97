// Health estimators against hand-computed values: the loss window's slide, RTT/jitter
// filters, heartbeat drop runs, and the path score's ordering.
#include <gtest/gtest.h>

#include "session/health.hpp"

namespace jg {
namespace {

TEST(LossWindow, RatioIsLostOverReceivedPlusLost) {
    LossWindow w(2'000);
    EXPECT_EQ(w.loss_ratio(0), 0.0) << "an empty window reports no loss";
    w.record(0, 90, 10);
    EXPECT_DOUBLE_EQ(w.loss_ratio(0), 0.10);
    w.record(500, 50, 50);
    EXPECT_DOUBLE_EQ(w.loss_ratio(500), 60.0 / 200.0);
}

TEST(LossWindow, OldBucketsSlideOutAfterTheWindow) {
    LossWindow w(1'600);     // 16 buckets of 100 ms
    w.record(0, 0, 10);      // bucket [0, 100)
    w.record(1'000, 10, 0);  // bucket [1000, 1100)
    EXPECT_DOUBLE_EQ(w.loss_ratio(1'599), 0.5);
    EXPECT_DOUBLE_EQ(w.loss_ratio(1'600), 0.0) << "the first bucket left the window";
    EXPECT_EQ(w.received_in_window(1'600), 10u);
    EXPECT_EQ(w.received_in_window(2'600), 0u);
    EXPECT_EQ(w.lost_in_window(50'000), 0u);
}

TEST(LossWindow, LongIdleClearsEverythingInBoundedWork) {
    LossWindow w(2'000);
    for (int64_t t = 0; t < 2'000; t += 10)
        w.record(t, 1, 1);
    EXPECT_NEAR(w.loss_ratio(1'999), 0.5, 1e-12);
    EXPECT_EQ(w.loss_ratio(1'000'000'000), 0.0);
}

TEST(LossWindow, LateArrivalTakesBackOneGap) {
    LossWindow w(2'000);
    w.record(0, 1, 3);
    w.record_late(10);
    EXPECT_EQ(w.lost_in_window(10), 2u);
    EXPECT_EQ(w.received_in_window(10), 2u);
}

TEST(LossWindow, TakeBackSpansBucketsNewestFirstAndStopsAtZero) {
    LossWindow w(1'600);  // 16 buckets of 100 ms
    w.record(0, 10, 3);
    w.record(200, 10, 2);
    w.take_back(250, 3);  // both of the newest bucket, one of the older
    EXPECT_EQ(w.lost_in_window(250), 2u);
    EXPECT_EQ(w.received_in_window(250), 20u) << "the late packets were counted as received";
    w.take_back(1'650, 5);  // the first bucket left the window: nothing more to take back
    EXPECT_EQ(w.lost_in_window(1'650), 0u);
    w.record(1'700, 1, 1);
    EXPECT_EQ(w.lost_in_window(1'700), 1u);
}

TEST(LossWindow, ResetAppliesANewWindowLength) {
    LossWindow w(2'000);
    w.record(0, 1, 1);
    w.reset(500);
    EXPECT_EQ(w.window_ms(), 500);
    EXPECT_EQ(w.lost_in_window(0), 0u);
}

TEST(PathHealth, CounterGapsAreLossesAndReorderedCountersAreNot) {
    PathHealth h(2'000);
    for (uint64_t c : {1, 2, 3, 7, 8})
        h.on_counter(100, c);  // 4, 5, 6 missing
    EXPECT_DOUBLE_EQ(h.snapshot(100).loss_ratio, 3.0 / 8.0);
    h.on_counter(110, 5);  // late, not lost
    EXPECT_DOUBLE_EQ(h.snapshot(110).loss_ratio, 2.0 / 8.0);
}

TEST(RttEstimator, MatchesHandComputedSrttAndJitter) {
    RttEstimator r;
    r.sample(100);
    EXPECT_DOUBLE_EQ(r.srtt_ms(), 100.0);
    EXPECT_DOUBLE_EQ(r.jitter_ms(), 0.0);
    r.sample(120);  // srtt 100 + 20/8, jitter 0 + (20 - 0)/16
    EXPECT_DOUBLE_EQ(r.srtt_ms(), 102.5);
    EXPECT_DOUBLE_EQ(r.jitter_ms(), 1.25);
    r.sample(90);  // srtt 102.5 - 12.5/8, jitter 1.25 + (30 - 1.25)/16
    EXPECT_DOUBLE_EQ(r.srtt_ms(), 100.9375);
    EXPECT_DOUBLE_EQ(r.jitter_ms(), 3.046875);
}

TEST(RttEstimator, ConstantRttHasNoJitter) {
    RttEstimator r;
    for (int i = 0; i < 100; ++i)
        r.sample(42);
    EXPECT_DOUBLE_EQ(r.srtt_ms(), 42.0);
    EXPECT_DOUBLE_EQ(r.jitter_ms(), 0.0);
}

TEST(PathHealth, ConsecutiveDropsAreTheRunBeforeTheNewestHeartbeat) {
    PathHealth h;
    h.on_heartbeat(0, 1, -1);
    h.on_heartbeat(500, 2, -1);
    EXPECT_EQ(h.consecutive_drops(), 0u);
    h.on_heartbeat(2'500, 6, -1);  // 3, 4, 5 lost
    EXPECT_EQ(h.consecutive_drops(), 3u);
    h.on_heartbeat(2'600, 4, -1);  // reordered: says nothing new
    EXPECT_EQ(h.consecutive_drops(), 3u);
    h.on_heartbeat(3'000, 7, 30);
    EXPECT_EQ(h.consecutive_drops(), 0u);
    EXPECT_EQ(h.heartbeat_age_ms(3'400), 400);
    EXPECT_DOUBLE_EQ(h.snapshot(3'000).rtt_ms, 30.0);
}

TEST(PathHealth, HeartbeatAgeIsUnknownBeforeTheFirstOne) {
    PathHealth h;
    EXPECT_EQ(h.heartbeat_age_ms(1'000), -1);
}

TEST(PathScore, MatchesTheDocumentedFormula) {
    EXPECT_DOUBLE_EQ(path_score({0.0, 20.0, 0.0, 0}), 1000.0 / 21.0);
    EXPECT_DOUBLE_EQ(path_score({0.1, 20.0, 5.0, 1}), 1000.0 / (41.0 * 2.0 * 2.0));
}

TEST(PathScore, RanksCleanFastPathsAboveLossySlowJitteryOrDroppingOnes) {
    const HealthSnapshot clean{0.0, 30.0, 2.0, 0};
    const HealthSnapshot lossy{0.05, 30.0, 2.0, 0};
    const HealthSnapshot slow{0.0, 120.0, 2.0, 0};
    const HealthSnapshot jittery{0.0, 30.0, 25.0, 0};
    const HealthSnapshot dropping{0.0, 30.0, 2.0, 2};
    for (const auto &worse : {lossy, slow, jittery, dropping})
        EXPECT_GT(path_score(clean), path_score(worse));
    EXPECT_GT(path_score(lossy), path_score({0.20, 30.0, 2.0, 0}));
}

}  // namespace
}  // namespace jg
