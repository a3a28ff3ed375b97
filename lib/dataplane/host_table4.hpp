// HostTable4: inner IPv4 host routes (/32) -> session slot, one cache line per lookup.
// Written by the control core only; read lock-free by workers (no reclamation needed).
#pragma once

// Why not rte_hash: with a million sessions every line a lookup touches is a cache miss, and
// rte_hash reads three (its primary and secondary signature buckets, then the key slot the
// hit names, a second dependent miss). A 4-byte key and a 4-byte slot fit the bucket itself:
// seven of them and an overflow count make one line, and the table is kept at most half
// full, so a lookup nearly always ends in its home bucket.
//
// Consistency without locks or grace periods: entries never move. An insert takes a free
// entry in the first bucket on the probe path that has one and counts itself in the
// overflow of every bucket it passed; a delete empties its entry and takes those counts back.
// A reader stops at a bucket whose overflow is zero, so it never misses a key that is in the
// table for its whole lookup, and a host moving to another session is one 8-byte store.

#include <rte_common.h>
#include <rte_hash_crc.h>

#include <atomic>
#include <cstdint>

namespace jg::dp {

struct alignas(RTE_CACHE_LINE_SIZE) HostBucket4 {
    static constexpr unsigned kEntries = 7;
    // slot << 32 | address (network order); kHostEntryEmpty when free.
    std::atomic<uint64_t> entry[kEntries];
    // Keys stored beyond this bucket whose probe path starts here or earlier.
    std::atomic<uint32_t> overflow;
    uint32_t reserved;
};
static_assert(sizeof(HostBucket4) == RTE_CACHE_LINE_SIZE);
// Readers never lock: an entry or the overflow count is read and replaced in one instruction.
static_assert(std::atomic<uint64_t>::is_always_lock_free &&
              std::atomic<uint32_t>::is_always_lock_free);

inline constexpr uint64_t kHostEntryEmpty = ~uint64_t(0);  // slot UINT32_MAX is never a slot

struct HostTable4 {
    HostBucket4 *buckets = nullptr;  // DPDK memory on the tables' socket
    uint32_t n_buckets = 0;
    uint32_t capacity = 0;  // hosts it accepts; n_buckets * 7 >= 2 * capacity
    uint32_t count = 0;     // written: control core only
    uint32_t seed = 0;
};

// ---- Control core ----

// Sized for `capacity` hosts (>= 1); false when DPDK memory is short (rte_errno says why).
bool host_table4_create(HostTable4 &t, uint32_t capacity, int socket);
void host_table4_free(HostTable4 &t);
// Adds `ip_be` (network order) -> `slot`, or moves an existing host to `slot` with one store.
// 0, -ENOSPC when `capacity` hosts are in the table, -EINVAL for slot UINT32_MAX.
int host_table4_set(HostTable4 &t, uint32_t ip_be, uint32_t slot);
// 0, or -ENOENT.
int host_table4_erase(HostTable4 &t, uint32_t ip_be);

// ---- Any thread (workers on the hot path) ----

inline uint32_t host_table4_home(const HostTable4 &t, uint32_t ip_be) {
    // CRC32 spreads addresses that differ in their low bits; the multiply maps the hash onto
    // a bucket count that need not be a power of two.
    const uint32_t h = rte_hash_crc_4byte(ip_be, t.seed);
    return uint32_t((uint64_t(h) * t.n_buckets) >> 32);
}

inline uint32_t host_table4_next(const HostTable4 &t, uint32_t bucket) {
    return bucket + 1 == t.n_buckets ? 0 : bucket + 1;
}

// The entry holding `ip_be` as loaded (once: an entry reloaded could by then hold another
// host), or kHostEntryEmpty; where it is in *bucket and *entry. `home` is
// host_table4_home(t, ip_be). Both sides probe through this: workers for the slot, the control
// core for the position.
inline uint64_t host_table4_probe(const HostTable4 &t, uint32_t ip_be, uint32_t home,
                                  uint32_t *bucket, unsigned *entry) {
    uint32_t b = home;
    for (uint32_t probed = 0; probed < t.n_buckets; ++probed) {
        const HostBucket4 &bk = t.buckets[b];
        for (unsigned i = 0; i < HostBucket4::kEntries; ++i) {
            const uint64_t e = bk.entry[i].load(std::memory_order_acquire);
            if (uint32_t(e) == ip_be && e != kHostEntryEmpty) {
                *bucket = b;
                *entry = i;
                return e;
            }
        }
        if (bk.overflow.load(std::memory_order_acquire) == 0)
            return kHostEntryEmpty;
        b = host_table4_next(t, b);
    }
    return kHostEntryEmpty;
}

// The slot `ip_be` maps to, or UINT32_MAX. `home` is host_table4_home(t, ip_be).
inline uint32_t host_table4_find_from(const HostTable4 &t, uint32_t ip_be, uint32_t home) {
    uint32_t bucket;
    unsigned entry;
    return uint32_t(host_table4_probe(t, ip_be, home, &bucket, &entry) >> 32);
}

inline uint32_t host_table4_find(const HostTable4 &t, uint32_t ip_be) {
    return host_table4_find_from(t, ip_be, host_table4_home(t, ip_be));
}

inline constexpr uint16_t kHostFindBulkMax = 64;  // addresses per host_table4_find_bulk call

// Looks up n (<= kHostFindBulkMax) addresses, their home buckets all fetched before the first
// is read: one round of misses for the burst.
inline void host_table4_find_bulk(const HostTable4 &t, const uint32_t *ip_be, uint32_t *slot,
                                  uint16_t n) {
    uint32_t home[kHostFindBulkMax];
    for (uint16_t i = 0; i < n; ++i) {
        home[i] = host_table4_home(t, ip_be[i]);
        __builtin_prefetch(&t.buckets[home[i]], 0, 3);
    }
    for (uint16_t i = 0; i < n; ++i)
        slot[i] = host_table4_find_from(t, ip_be[i], home[i]);
}

}  // namespace jg::dp
