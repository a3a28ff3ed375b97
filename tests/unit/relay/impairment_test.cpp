// The relay's seeded decisions: loss rates within binomial bounds, reproducibility, jitter
// shapes, and independence of one impairment's decisions from another's settings.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "impairment.hpp"

namespace jg::relay {
namespace {

constexpr int kPackets = 10'000;

int count_drops(uint64_t seed, double percent) {
    ImpairmentModel model(seed);
    DirectionImpairment s;
    s.drop_percent = percent;
    int drops = 0;
    for (int i = 0; i < kPackets; ++i) {
        drops += model.decide(s).verdict == Verdict::drop_loss;
    }
    return drops;
}

TEST(ImpairmentModel, FifteenPercentDropLandsWithinBinomialBounds) {
    // n = 10000, p = 0.15: mean 1500, sd 35.7; 4.5 sd either side fails by chance with
    // probability below 1e-5 per seed.
    const double mean = kPackets * 0.15;
    const double sd = std::sqrt(kPackets * 0.15 * 0.85);
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        int drops = count_drops(seed, 15);
        EXPECT_GT(drops, mean - 4.5 * sd) << "seed " << seed;
        EXPECT_LT(drops, mean + 4.5 * sd) << "seed " << seed;
    }
}

TEST(ImpairmentModel, ZeroAndHundredPercentAreExact) {
    EXPECT_EQ(count_drops(7, 0), 0);
    EXPECT_EQ(count_drops(7, 100), kPackets);
}

std::vector<PacketFate> fates(uint64_t seed, const DirectionImpairment &s, int n) {
    ImpairmentModel model(seed);
    std::vector<PacketFate> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(model.decide(s));
    }
    return out;
}

bool same(const std::vector<PacketFate> &a, const std::vector<PacketFate> &b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].verdict != b[i].verdict || a[i].duplicate != b[i].duplicate ||
            a[i].hold_for_reorder != b[i].hold_for_reorder || a[i].delay_us != b[i].delay_us) {
            return false;
        }
    }
    return true;
}

DirectionImpairment everything_on() {
    DirectionImpairment s;
    s.drop_percent = 10;
    s.duplicate_percent = 5;
    s.reorder_percent = 5;
    s.delay_ms = 30;
    s.jitter_ms = 10;
    s.jitter_shape = JitterShape::normal;
    return s;
}

TEST(ImpairmentModel, SameSeedGivesSameDecisions) {
    EXPECT_TRUE(same(fates(42, everything_on(), 5000), fates(42, everything_on(), 5000)));
}

TEST(ImpairmentModel, OtherSeedGivesOtherDecisions) {
    EXPECT_FALSE(same(fates(42, everything_on(), 5000), fates(43, everything_on(), 5000)));
}

TEST(ImpairmentModel, DirectionsDrawFromDifferentStreams) {
    uint64_t up = direction_seed(9, Direction::up);
    uint64_t down = direction_seed(9, Direction::down);
    EXPECT_NE(up, down);
    EXPECT_FALSE(same(fates(up, everything_on(), 1000), fates(down, everything_on(), 1000)));
}

TEST(ImpairmentModel, TurningDuplicationOnLeavesDropDecisionsAlone) {
    DirectionImpairment loss_only;
    loss_only.drop_percent = 20;
    DirectionImpairment loss_and_dup = loss_only;
    loss_and_dup.duplicate_percent = 50;
    auto a = fates(5, loss_only, 3000);
    auto b = fates(5, loss_and_dup, 3000);
    int duplicated = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].verdict, b[i].verdict) << "packet " << i;
        duplicated += b[i].duplicate;
    }
    EXPECT_GT(duplicated, 1000);  // 50 % of the ~2400 forwarded
    EXPECT_LT(duplicated, 1400);
}

std::vector<int> dropped_indexes(const std::vector<PacketFate> &fates) {
    std::vector<int> out;
    for (size_t i = 0; i < fates.size(); ++i) {
        if (fates[i].verdict == Verdict::drop_loss) {
            out.push_back(static_cast<int>(i));
        }
    }
    return out;
}

TEST(ImpairmentModel, TurningJitterOnLeavesDropDecisionsAlone) {
    DirectionImpairment loss_only;
    loss_only.drop_percent = 10;
    DirectionImpairment uniform = loss_only;
    uniform.delay_ms = 50;
    uniform.jitter_ms = 20;
    DirectionImpairment normal = uniform;
    normal.jitter_shape = JitterShape::normal;
    const auto dropped = dropped_indexes(fates(1, loss_only, kPackets));
    EXPECT_GT(dropped.size(), 800u);  // about 1000
    EXPECT_EQ(dropped_indexes(fates(1, uniform, kPackets)), dropped);
    EXPECT_EQ(dropped_indexes(fates(1, normal, kPackets)), dropped);
}

TEST(ImpairmentModel, TurningLossOnLeavesTheOtherPacketsFatesAlone) {
    DirectionImpairment lossless = everything_on();
    lossless.drop_percent = 0;
    ImpairmentModel reference(2);
    ImpairmentModel lossy(2);
    int lost = 0;
    for (int i = 0; i < 3000; ++i) {
        PacketFate expected = reference.decide(lossless);
        PacketFate got = lossy.decide(everything_on());  // 10 % loss
        if (got.verdict == Verdict::drop_loss) {
            ++lost;
        } else {
            ASSERT_TRUE(same({expected}, {got})) << "packet " << i;
        }
    }
    EXPECT_GT(lost, 200);  // about 300
}

TEST(ImpairmentModel, ABlackholeLeavesTheDecisionsAfterItAlone) {
    DirectionImpairment s = everything_on();
    DirectionImpairment dark = s;
    dark.blackhole = true;
    ImpairmentModel steady(6);
    ImpairmentModel interrupted(6);
    for (int i = 0; i < 2000; ++i) {
        PacketFate expected = steady.decide(s);
        PacketFate got = interrupted.decide(i >= 500 && i < 700 ? dark : s);
        if (i >= 500 && i < 700) {
            ASSERT_EQ(got.verdict, Verdict::drop_blackhole);
        } else {
            ASSERT_TRUE(same({expected}, {got})) << "packet " << i;
        }
    }
}

TEST(ImpairmentModel, BlackholeDropsEveryPacketWhateverTheOtherSettings) {
    DirectionImpairment s = everything_on();
    s.blackhole = true;
    for (const PacketFate &f : fates(3, s, 1000)) {
        ASSERT_EQ(f.verdict, Verdict::drop_blackhole);
    }
}

TEST(ImpairmentModel, DuplicateAndReorderRatesFollowTheirPercentages) {
    DirectionImpairment s;
    s.duplicate_percent = 30;
    s.reorder_percent = 10;
    int dup = 0, held = 0;
    for (const PacketFate &f : fates(11, s, kPackets)) {
        EXPECT_EQ(f.verdict, Verdict::forward);
        dup += f.duplicate;
        held += f.hold_for_reorder;
    }
    EXPECT_NEAR(dup, 3000, 4.5 * std::sqrt(kPackets * 0.3 * 0.7));
    EXPECT_NEAR(held, 1000, 4.5 * std::sqrt(kPackets * 0.1 * 0.9));
}

TEST(ImpairmentModel, FixedDelayWithoutJitterIsExact) {
    DirectionImpairment s;
    s.delay_ms = 25;
    for (const PacketFate &f : fates(1, s, 100)) {
        ASSERT_EQ(f.delay_us, 25'000u);
    }
}

TEST(ImpairmentModel, UniformJitterStaysInsideDelayPlusMinusJitter) {
    DirectionImpairment s;
    s.delay_ms = 50;
    s.jitter_ms = 20;
    double sum = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const PacketFate &f : fates(8, s, kPackets)) {
        ASSERT_GE(f.delay_us, 30'000u);
        ASSERT_LE(f.delay_us, 70'000u);
        lo = std::min(lo, f.delay_us);
        hi = std::max(hi, f.delay_us);
        sum += static_cast<double>(f.delay_us);
    }
    EXPECT_NEAR(sum / kPackets, 50'000, 500);
    EXPECT_LT(lo, 31'000u);  // the whole range is used
    EXPECT_GT(hi, 69'000u);
}

TEST(ImpairmentModel, NormalJitterHasTheGivenMeanAndStandardDeviation) {
    DirectionImpairment s;
    s.delay_ms = 100;
    s.jitter_ms = 10;
    s.jitter_shape = JitterShape::normal;
    double sum = 0, sq = 0;
    for (const PacketFate &f : fates(21, s, kPackets)) {
        double ms = static_cast<double>(f.delay_us) / 1000.0;
        sum += ms;
        sq += ms * ms;
    }
    double mean = sum / kPackets;
    double sd = std::sqrt(sq / kPackets - mean * mean);
    EXPECT_NEAR(mean, 100, 0.5);  // standard error 0.1 ms
    EXPECT_NEAR(sd, 10, 0.4);
}

TEST(ImpairmentModel, JitterNeverMakesADelayNegative) {
    DirectionImpairment s;
    s.delay_ms = 2;
    s.jitter_ms = 20;
    s.jitter_shape = JitterShape::normal;
    int zero = 0;
    for (const PacketFate &f : fates(4, s, kPackets)) {
        ASSERT_LE(f.delay_us, 200'000u);  // 10 sd above the mean would be absurd
        zero += f.delay_us == 0;
    }
    EXPECT_GT(zero, kPackets / 4);  // about 46 % fall below 0 ms and are clamped
}

}  // namespace
}  // namespace jg::relay
