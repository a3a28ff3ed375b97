// HostTable4: inserts, moves, deletes and capacity against a std::map model, probe paths
// that overflow their home bucket, and readers that must never miss a host that stays put
// while a writer churns others.
#include <rte_byteorder.h>
#include <rte_ip.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "dataplane/host_table4.hpp"

namespace {

using namespace jg::dp;

uint32_t be(uint32_t host_order) {
    return rte_cpu_to_be_32(host_order);
}

struct Table {
    HostTable4 t;
    explicit Table(uint32_t capacity) {
        EXPECT_TRUE(host_table4_create(t, capacity, SOCKET_ID_ANY));
    }
    ~Table() { host_table4_free(t); }
};

// Addresses whose home is `bucket`, so a test can fill one bucket and force overflow.
std::vector<uint32_t> addresses_homed_at(const HostTable4 &t, uint32_t bucket, size_t n) {
    std::vector<uint32_t> out;
    for (uint32_t i = 1; out.size() < n; ++i)
        if (host_table4_home(t, be(RTE_IPV4(10, 0, 0, 0) + i)) == bucket)
            out.push_back(be(RTE_IPV4(10, 0, 0, 0) + i));
    return out;
}

TEST(HostTable4, SizedAtMostHalfFull) {
    Table a(1000);
    EXPECT_GE(uint64_t(a.t.n_buckets) * HostBucket4::kEntries, 2000u);
    EXPECT_LT(uint64_t(a.t.n_buckets) * HostBucket4::kEntries, 2000u + HostBucket4::kEntries);
    HostTable4 z;
    EXPECT_FALSE(host_table4_create(z, 0, SOCKET_ID_ANY));
}

TEST(HostTable4, SetFindMoveErase) {
    Table a(16);
    const uint32_t ip = be(RTE_IPV4(10, 1, 2, 3));
    EXPECT_EQ(host_table4_find(a.t, ip), UINT32_MAX);
    EXPECT_EQ(host_table4_set(a.t, ip, 7), 0);
    EXPECT_EQ(host_table4_find(a.t, ip), 7u);
    EXPECT_EQ(a.t.count, 1u);
    // A host moving to another session: same entry, new slot, count unchanged.
    EXPECT_EQ(host_table4_set(a.t, ip, 9), 0);
    EXPECT_EQ(host_table4_find(a.t, ip), 9u);
    EXPECT_EQ(a.t.count, 1u);
    EXPECT_EQ(host_table4_erase(a.t, ip), 0);
    EXPECT_EQ(host_table4_find(a.t, ip), UINT32_MAX);
    EXPECT_EQ(host_table4_erase(a.t, ip), -ENOENT);
    EXPECT_EQ(a.t.count, 0u);
    // UINT32_MAX is the empty marker's slot, never a session's: refused, nothing counted.
    EXPECT_EQ(host_table4_set(a.t, 0xffffffffu, UINT32_MAX), -EINVAL);
    EXPECT_EQ(a.t.count, 0u);
    for (uint32_t b = 0; b < a.t.n_buckets; ++b)
        EXPECT_EQ(a.t.buckets[b].overflow.load(), 0u);
}

TEST(HostTable4, ZeroAndBroadcastAddressesAreKeysLikeAnyOther) {
    Table a(16);
    EXPECT_EQ(host_table4_find(a.t, 0), UINT32_MAX);
    EXPECT_EQ(host_table4_find(a.t, 0xffffffffu), UINT32_MAX);
    EXPECT_EQ(host_table4_set(a.t, 0, 0), 0);
    EXPECT_EQ(host_table4_set(a.t, 0xffffffffu, 5), 0);
    EXPECT_EQ(host_table4_find(a.t, 0), 0u);
    EXPECT_EQ(host_table4_find(a.t, 0xffffffffu), 5u);
    EXPECT_EQ(host_table4_erase(a.t, 0xffffffffu), 0);
    EXPECT_EQ(host_table4_find(a.t, 0xffffffffu), UINT32_MAX);
    EXPECT_EQ(host_table4_find(a.t, 0), 0u);
}

TEST(HostTable4, FullAtCapacityAndRefusesWithoutChange) {
    Table a(10);
    for (uint32_t i = 0; i < 10; ++i)
        ASSERT_EQ(host_table4_set(a.t, be(RTE_IPV4(10, 0, 0, 1) + i), i), 0);
    EXPECT_EQ(host_table4_set(a.t, be(RTE_IPV4(10, 0, 1, 1)), 99), -ENOSPC);
    EXPECT_EQ(host_table4_find(a.t, be(RTE_IPV4(10, 0, 1, 1))), UINT32_MAX);
    EXPECT_EQ(a.t.count, 10u);
    // Moving a host that is in the table needs no room.
    EXPECT_EQ(host_table4_set(a.t, be(RTE_IPV4(10, 0, 0, 1)), 42), 0);
    EXPECT_EQ(host_table4_find(a.t, be(RTE_IPV4(10, 0, 0, 1))), 42u);
    ASSERT_EQ(host_table4_erase(a.t, be(RTE_IPV4(10, 0, 0, 2))), 0);
    EXPECT_EQ(host_table4_set(a.t, be(RTE_IPV4(10, 0, 1, 1)), 99), 0);
}

TEST(HostTable4, OverflowPathsAreCountedAndTakenBack) {
    Table a(64);
    const uint32_t home = 3;
    // Nine hosts sharing one home bucket of seven: two land further on.
    const std::vector<uint32_t> ips = addresses_homed_at(a.t, home, 9);
    for (uint32_t i = 0; i < ips.size(); ++i)
        ASSERT_EQ(host_table4_set(a.t, ips[i], 100 + i), 0);
    EXPECT_EQ(a.t.buckets[home].overflow.load(), 2u);
    for (uint32_t i = 0; i < ips.size(); ++i)
        EXPECT_EQ(host_table4_find(a.t, ips[i]), 100 + i);
    // Deleting a host in the home bucket leaves the two beyond it reachable.
    ASSERT_EQ(host_table4_erase(a.t, ips[0]), 0);
    EXPECT_EQ(a.t.buckets[home].overflow.load(), 2u);
    for (uint32_t i = 1; i < ips.size(); ++i)
        EXPECT_EQ(host_table4_find(a.t, ips[i]), 100 + i);
    // Deleting the two that overflowed takes the home bucket's count back to zero.
    ASSERT_EQ(host_table4_erase(a.t, ips[7]), 0);
    ASSERT_EQ(host_table4_erase(a.t, ips[8]), 0);
    EXPECT_EQ(a.t.buckets[home].overflow.load(), 0u);
    for (uint32_t b = 0; b < a.t.n_buckets; ++b)
        EXPECT_EQ(a.t.buckets[b].overflow.load(), 0u) << "bucket " << b;
}

TEST(HostTable4, WrapsFromTheLastBucketToTheFirst) {
    Table a(16);
    const uint32_t last = a.t.n_buckets - 1;
    const std::vector<uint32_t> ips = addresses_homed_at(a.t, last, 8);
    for (uint32_t i = 0; i < ips.size(); ++i)
        ASSERT_EQ(host_table4_set(a.t, ips[i], i), 0);
    EXPECT_EQ(a.t.buckets[last].overflow.load(), 1u);
    for (uint32_t i = 0; i < ips.size(); ++i)
        EXPECT_EQ(host_table4_find(a.t, ips[i]), i);
    uint32_t found[8];
    host_table4_find_bulk(a.t, ips.data(), found, 8);
    for (uint32_t i = 0; i < 8; ++i)
        EXPECT_EQ(found[i], i);
    const uint32_t mixed[3] = {ips[7], be(RTE_IPV4(192, 0, 2, 1)), ips[0]};
    host_table4_find_bulk(a.t, mixed, found, 3);
    EXPECT_EQ(found[0], 7u);
    EXPECT_EQ(found[1], UINT32_MAX);
    EXPECT_EQ(found[2], 0u);
}

TEST(HostTable4, RandomChurnMatchesAMap) {
    Table a(2000);
    std::map<uint32_t, uint32_t> model;
    std::mt19937 rng(7);
    for (int step = 0; step < 200000; ++step) {
        // A small address space so sets, moves and erases hit existing keys often.
        const uint32_t ip = be(RTE_IPV4(10, 0, 0, 0) + rng() % 3000);
        const uint32_t op = rng() % 3;
        if (op < 2) {
            const uint32_t slot = rng() % 100000;
            const int rc = host_table4_set(a.t, ip, slot);
            if (model.count(ip) != 0 || model.size() < 2000) {
                ASSERT_EQ(rc, 0);
                model[ip] = slot;
            } else {
                ASSERT_EQ(rc, -ENOSPC);
            }
        } else {
            ASSERT_EQ(host_table4_erase(a.t, ip), model.erase(ip) != 0 ? 0 : -ENOENT);
        }
        ASSERT_EQ(a.t.count, model.size());
    }
    for (uint32_t i = 0; i < 3000; ++i) {
        const uint32_t ip = be(RTE_IPV4(10, 0, 0, 0) + i);
        const auto it = model.find(ip);
        EXPECT_EQ(host_table4_find(a.t, ip), it == model.end() ? UINT32_MAX : it->second);
    }
}

// Readers look up hosts that never leave while the writer adds, moves and removes others on
// the same probe paths: a reader must see every resident host, with its slot, every time.
// The residents sit beyond a full home bucket, so each lookup depends on the overflow counts
// the churn keeps changing.
TEST(HostTable4, ReadersNeverMissAResidentHostUnderChurn) {
    Table a(64);
    const std::vector<uint32_t> homed5 = addresses_homed_at(a.t, 5, 19);
    const std::vector<uint32_t> fillers(homed5.begin(), homed5.begin() + 7);
    const std::vector<uint32_t> resident(homed5.begin() + 7, homed5.begin() + 11);
    for (uint32_t ip : fillers)
        ASSERT_EQ(host_table4_set(a.t, ip, 1), 0);
    for (uint32_t i = 0; i < resident.size(); ++i)
        ASSERT_EQ(host_table4_set(a.t, resident[i], 1000 + i), 0);
    ASSERT_EQ(a.t.buckets[5].overflow.load(), resident.size());
    std::vector<uint32_t> churn = addresses_homed_at(a.t, 4, 8);
    churn.insert(churn.end(), fillers.begin(), fillers.end());
    churn.insert(churn.end(), homed5.begin() + 11, homed5.end());
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> misses{0}, lookups{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                for (uint32_t i = 0; i < resident.size(); ++i)
                    if (host_table4_find(a.t, resident[i]) != 1000 + i)
                        misses.fetch_add(1, std::memory_order_relaxed);
                lookups.fetch_add(resident.size(), std::memory_order_relaxed);
            }
        });
    }
    // The churn starts once both readers run (two vCPUs may schedule them late), and a failed
    // set is counted rather than asserted, so the readers are always stopped and joined.
    while (lookups.load(std::memory_order_relaxed) < 2 * resident.size())
        std::this_thread::yield();
    std::mt19937 rng(11);
    uint64_t failed_sets = 0;
    for (int step = 0; step < 300000; ++step) {
        const uint32_t ip = churn[rng() % churn.size()];
        if (rng() % 2 == 0)
            failed_sets += host_table4_set(a.t, ip, rng() % 50) != 0;
        else
            host_table4_erase(a.t, ip);
    }
    stop = true;
    for (auto &th : readers)
        th.join();
    EXPECT_EQ(failed_sets, 0u);
    EXPECT_EQ(misses.load(), 0u) << "of " << lookups.load() << " lookups";
}

}  // namespace
