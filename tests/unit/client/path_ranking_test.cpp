#include "client/path_ranking.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace jg::client {
namespace {

PathStanding path(uint8_t id, int64_t last_rx, double rtt, double loss, bool measured = true) {
    PathStanding p;
    p.id = id;
    p.last_rx_ms = last_rx;
    p.has_health = measured;
    p.health.rtt_ms = rtt;
    p.health.loss_ratio = loss;
    return p;
}

constexpr int64_t kNow = 100'000;
constexpr int64_t kFresh = 2'000;

TEST(PathRanking, ExcludesTheActivePathAndPathsWithoutAnAddress) {
    std::vector<PathStanding> paths = {path(1, kNow, 5, 0), path(2, kNow, 5, 0),
                                       path(3, kNow, 5, 0)};
    paths[2].open = false;
    EXPECT_EQ(rank_candidates(paths, 1, kNow, kFresh), (std::vector<uint8_t>{2}));
}

// Only a send tells that a failed path works again: it comes after every path that can send,
// however good its record, but stays in the ranking, so retries rotating through it reach it
// even while another (blackholed) candidate can send.
TEST(PathRanking, PathsWhoseLastSendFailedComeLastButStay) {
    std::vector<PathStanding> paths = {path(1, kNow - 10'000, 5, 0), path(2, kNow, 1, 0),
                                       path(3, kNow - 10'000, 90, 0.2)};
    paths[1].can_send = false;
    EXPECT_EQ(rank_candidates(paths, 1, kNow, kFresh), (std::vector<uint8_t>{3, 2}));
}

TEST(PathRanking, RecentlyHeardPathsComeBeforeSilentOnesWhateverTheirScore) {
    std::vector<PathStanding> paths = {path(1, kNow, 5, 0), path(2, kNow - 10'000, 1, 0),
                                       path(3, kNow - 100, 80, 0.05)};
    EXPECT_EQ(rank_candidates(paths, 1, kNow, kFresh), (std::vector<uint8_t>{3, 2}));
}

TEST(PathRanking, AmongFreshPathsTheBetterScoreWins) {
    std::vector<PathStanding> paths = {path(1, kNow, 5, 0), path(2, kNow, 40, 0),
                                       path(3, kNow, 10, 0), path(4, kNow, 10, 0.3)};
    EXPECT_EQ(rank_candidates(paths, 1, kNow, kFresh), (std::vector<uint8_t>{3, 2, 4}));
}

TEST(PathRanking, MeasuredBeforeUnmeasuredThenConfigurationOrder) {
    std::vector<PathStanding> paths = {path(1, kNow, 5, 0), path(2, kNeverHeard, 0, 0, false),
                                       path(3, kNeverHeard, 0, 0, false),
                                       path(4, kNow - 50'000, 30, 0)};
    EXPECT_EQ(rank_candidates(paths, 1, kNow, kFresh), (std::vector<uint8_t>{4, 2, 3}));
}

TEST(PathRanking, EmptyWhenOnlyTheActivePathExists) {
    std::vector<PathStanding> paths = {path(1, kNow, 5, 0)};
    EXPECT_TRUE(rank_candidates(paths, 1, kNow, kFresh).empty());
}

// Whatever heartbeat_volatile_ms the gateway hints, requests sent back to back at the retry
// interval put at most 5 in any closed second.
TEST(ReattachPacing, AtMostFiveRequestsInAnySecond) {
    for (const int64_t volatile_ms : {1, 100, 400, 499, 500, 501, 1000, 2000, 10'000}) {
        const int64_t step = reattach_retry_ms(volatile_ms);
        EXPECT_GE(step, volatile_ms / 2);
        std::vector<int64_t> sent;
        for (int64_t t = 0; t <= 5'000; t += step)
            sent.push_back(t);
        for (size_t i = 0; i < sent.size(); ++i) {
            size_t n = 0;
            for (size_t j = i; j < sent.size() && sent[j] - sent[i] <= 1'000; ++j)
                ++n;
            EXPECT_LE(n, 5u) << "heartbeat_volatile_ms " << volatile_ms;
        }
    }
}

}  // namespace
}  // namespace jg::client
