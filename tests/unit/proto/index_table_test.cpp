#include <gtest/gtest.h>

#include <set>
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

}  // namespace
}  // namespace jg::proto
