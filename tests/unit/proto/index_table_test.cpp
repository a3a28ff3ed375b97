#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "proto/index_table.hpp"

namespace jg::proto {
namespace {

TEST(IndexTable, AllocatedIndicesAreUniqueAndOwned) {
    IndexTable t;
    std::set<uint32_t> seen;
    for (uint64_t i = 0; i < 20'000; ++i) {
        auto idx = t.allocate(i);
        ASSERT_TRUE(idx.ok());
        ASSERT_TRUE(seen.insert(*idx).second);
        ASSERT_EQ(t.owner(*idx), i);
    }
    EXPECT_EQ(t.size(), 20'000u);
}

TEST(IndexTable, CollidingDrawIsRetriedUntilUnique) {
    std::vector<uint32_t> draws = {5, 5, 5, 7};
    size_t next = 0;
    IndexTable t([&] { return draws[next++]; });
    EXPECT_EQ(*t.allocate(1), 5u);
    EXPECT_EQ(*t.allocate(2), 7u);
    EXPECT_EQ(next, 4u);
    EXPECT_EQ(t.owner(5), 1u);
    EXPECT_EQ(t.owner(7), 2u);
}

TEST(IndexTable, GivesUpWhenEveryDrawCollides) {
    IndexTable t([] { return 9u; });
    ASSERT_TRUE(t.allocate(1).ok());
    EXPECT_FALSE(t.allocate(2).ok());
    EXPECT_EQ(t.size(), 1u);
}

TEST(IndexTable, ReleasedIndexCanBeReused) {
    IndexTable t([] { return 9u; });
    ASSERT_TRUE(t.allocate(1).ok());
    EXPECT_TRUE(t.release(9));
    EXPECT_FALSE(t.release(9));
    EXPECT_FALSE(t.contains(9));
    EXPECT_EQ(t.owner(9), std::nullopt);
    auto again = t.allocate(2);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(t.owner(9), 2u);
}

TEST(IndexTable, PositionBitsLeaveRoomForFourKeypairsPerSession) {
    EXPECT_EQ(receiver_index_position_bits(1), 4u);  // never fewer than 16 positions
    EXPECT_EQ(receiver_index_position_bits(4), 4u);
    EXPECT_EQ(receiver_index_position_bits(5), 5u);
    EXPECT_EQ(receiver_index_position_bits(65536), 18u);
    EXPECT_EQ(receiver_index_position_bits(1'000'000), 22u);
    EXPECT_EQ(receiver_index_position(0xabcd1234u, 16), 0x1234u);
}

TEST(IndexTable, PositionedIndicesCarryAFreePositionUnderRandomBits) {
    uint32_t draw = 0x1234567u;
    IndexTable t(4, [&] { return draw++; });
    std::set<uint32_t> positions;
    for (uint64_t i = 0; i < 16; ++i) {
        auto idx = t.allocate(i);
        ASSERT_TRUE(idx.ok());
        EXPECT_EQ(*idx >> 4, (0x1234567u + i) & 0x0fffffffu);
        ASSERT_TRUE(positions.insert(receiver_index_position(*idx, 4)).second);
        EXPECT_EQ(t.owner(*idx), i);
    }
    auto full = t.allocate(99);
    ASSERT_FALSE(full.ok());
    EXPECT_NE(full.error().message().find("every receiver index position is live"),
              std::string::npos);
    EXPECT_EQ(t.size(), 16u);
}

TEST(IndexTable, AReleasedPositionWaitsBehindEveryOtherFreeOne) {
    IndexTable t(4, [] { return 0u; });
    const uint32_t first = *t.allocate(1);  // position 0
    EXPECT_EQ(first, 0u);
    EXPECT_TRUE(t.release(first));
    EXPECT_FALSE(t.release(first));
    for (uint32_t p = 1; p < 16; ++p)
        EXPECT_EQ(*t.allocate(p), p);
    EXPECT_EQ(*t.allocate(16), 0u) << "position 0 comes back only after all the others";
}

}  // namespace
}  // namespace jg::proto
