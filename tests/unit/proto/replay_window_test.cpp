#include <gtest/gtest.h>

#include "proto/replay_window.hpp"

namespace jg::proto {
namespace {

class ReplayWindowTest : public ::testing::Test {
  protected:
    void SetUp() override { w.reset(); }
    ReplayWindow w;
};

TEST_F(ReplayWindowTest, AcceptsCounterZeroFirstAndRejectsItsDuplicate) {
    EXPECT_EQ(w.check(0), ReplayVerdict::fresh);
    EXPECT_EQ(w.update(0), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(0), ReplayVerdict::duplicate);
    EXPECT_EQ(w.update(0), ReplayVerdict::duplicate);
}

TEST_F(ReplayWindowTest, CheckDoesNotRecordTheCounter) {
    EXPECT_EQ(w.check(5), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(5), ReplayVerdict::fresh);
    EXPECT_EQ(w.update(5), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(5), ReplayVerdict::duplicate);
}

TEST_F(ReplayWindowTest, AcceptsOutOfOrderCountersInsideWindowOnce) {
    for (uint64_t c : {10u, 3u, 7u, 9u, 4u}) {
        EXPECT_EQ(w.update(c), ReplayVerdict::fresh) << c;
    }
    for (uint64_t c : {10u, 3u, 7u, 9u, 4u}) {
        EXPECT_EQ(w.check(c), ReplayVerdict::duplicate) << c;
    }
    EXPECT_EQ(w.check(8), ReplayVerdict::fresh);
}

TEST_F(ReplayWindowTest, RejectsCounterBelowWindow) {
    const uint64_t top = 10'000;
    ASSERT_EQ(w.update(top), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(top - kReplayWindowSize), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(top - kReplayWindowSize - 1), ReplayVerdict::too_old);
    EXPECT_EQ(w.update(top - kReplayWindowSize - 1), ReplayVerdict::too_old);
    EXPECT_EQ(w.update(top - kReplayWindowSize), ReplayVerdict::fresh);
    EXPECT_EQ(w.update(top - kReplayWindowSize), ReplayVerdict::duplicate);
}

TEST_F(ReplayWindowTest, HoldsAtLeast2048Counters) {
    const uint64_t top = 5000;
    for (uint64_t c = top - 2047; c <= top; ++c) {
        ASSERT_EQ(w.update(c), ReplayVerdict::fresh) << c;
    }
    for (uint64_t c = top - 2047; c <= top; ++c) {
        ASSERT_EQ(w.check(c), ReplayVerdict::duplicate) << c;
    }
}

TEST_F(ReplayWindowTest, FarJumpAheadForgetsEverythingBelowTheNewWindow) {
    for (uint64_t c = 0; c < 100; ++c)
        ASSERT_EQ(w.update(c), ReplayVerdict::fresh);
    const uint64_t jump = 1'000'000;
    EXPECT_EQ(w.update(jump), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(50), ReplayVerdict::too_old);
    // Counters just below the jump were never seen: their bits must have been cleared even
    // though their blocks alias the blocks that held 0..99.
    for (uint64_t c = jump - kReplayWindowSize; c < jump; ++c) {
        ASSERT_EQ(w.check(c), ReplayVerdict::fresh) << c;
    }
    EXPECT_EQ(w.check(jump), ReplayVerdict::duplicate);
}

TEST_F(ReplayWindowTest, SlidingAcrossManyBlocksNeverReportsStaleDuplicates) {
    // Every counter accepted once in order, with a lagging re-check 64 * 33 behind: the ring
    // of blocks wraps around many times.
    for (uint64_t c = 0; c < 50'000; ++c) {
        ASSERT_EQ(w.update(c), ReplayVerdict::fresh) << c;
        if (c >= 2000) {
            ASSERT_EQ(w.check(c - 2000), ReplayVerdict::duplicate) << c;
        }
        if (c >= kReplayWindowSize + 1) {
            ASSERT_EQ(w.check(c - kReplayWindowSize - 1), ReplayVerdict::too_old) << c;
        }
    }
}

TEST_F(ReplayWindowTest, StepsOfOneBlockAndMoreKeepUnseenCountersFresh) {
    uint64_t c = 0;
    for (int i = 0; i < 500; ++i) {
        c += 63 + (i % 5) * 64;  // jumps of 63..319, crossing 1 to 5 blocks
        ASSERT_EQ(w.update(c), ReplayVerdict::fresh) << c;
        ASSERT_EQ(w.check(c - 1), ReplayVerdict::fresh) << c;
        ASSERT_EQ(w.check(c - 62), ReplayVerdict::fresh) << c;
    }
}

TEST_F(ReplayWindowTest, RejectsCounterAtRejectAfterMessages) {
    EXPECT_EQ(w.check(kRejectAfterMessages), ReplayVerdict::exhausted);
    EXPECT_EQ(w.update(kRejectAfterMessages), ReplayVerdict::exhausted);
    EXPECT_EQ(w.check(~0ull), ReplayVerdict::exhausted);
    EXPECT_EQ(w.update(kRejectAfterMessages - 1), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(kRejectAfterMessages - 1), ReplayVerdict::duplicate);
    EXPECT_EQ(w.check(kRejectAfterMessages - 2), ReplayVerdict::fresh);
}

TEST_F(ReplayWindowTest, ResetForgetsAcceptedCounters) {
    ASSERT_EQ(w.update(42), ReplayVerdict::fresh);
    w.reset();
    EXPECT_EQ(w.check(42), ReplayVerdict::fresh);
    EXPECT_EQ(w.check(0), ReplayVerdict::fresh);
}

// The first accepted counter does not clear the blocks, so a window must start with none set,
// whether constructed or reset after use, wherever its first counter lands.
TEST(ReplayWindowStart, KnowsNoCounterBelowItsFirstWhetherConstructedOrReset) {
    ReplayWindow constructed;
    ReplayWindow reused;
    for (uint64_t c = 0; c < 3 * kReplayWindowSize; c += 3)
        ASSERT_EQ(reused.update(c), ReplayVerdict::fresh) << c;
    reused.reset();
    for (ReplayWindow *w : {&constructed, &reused}) {
        const uint64_t first = 2 * kReplayWindowSize + 17;
        ASSERT_EQ(w->update(first), ReplayVerdict::fresh);
        for (uint64_t c = first - kReplayWindowSize; c < first; ++c)
            ASSERT_EQ(w->check(c), ReplayVerdict::fresh) << c;
        EXPECT_EQ(w->check(first), ReplayVerdict::duplicate);
    }
}

TEST(ReplayVerdict, NamesComeFromTheSameList) {
    EXPECT_EQ(replay_verdict_name(ReplayVerdict::too_old), "too_old");
    EXPECT_EQ(replay_verdict_name(ReplayVerdict::exhausted), "exhausted");
}

}  // namespace
}  // namespace jg::proto
