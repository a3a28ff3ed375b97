// HostTable4's writer side: sizing, inserts that count their probe path, deletes that take
// the counts back. Control core only.
#include "dataplane/host_table4.hpp"

#include <rte_errno.h>
#include <rte_malloc.h>

#include <cerrno>
#include <new>

namespace jg::dp {
namespace {

uint64_t pack(uint32_t ip_be, uint32_t slot) {
    return uint64_t(slot) << 32 | ip_be;
}

// Where `ip_be` is stored: bucket and entry, or false.
bool locate(const HostTable4 &t, uint32_t ip_be, uint32_t &bucket, unsigned &entry) {
    return host_table4_probe(t, ip_be, host_table4_home(t, ip_be), &bucket, &entry) !=
           kHostEntryEmpty;
}

// Adds `delta` to the overflow of every bucket from `ip_be`'s home up to, not including, `last`.
void count_path(HostTable4 &t, uint32_t ip_be, uint32_t last, int delta) {
    for (uint32_t b = host_table4_home(t, ip_be); b != last; b = host_table4_next(t, b)) {
        std::atomic<uint32_t> &o = t.buckets[b].overflow;
        o.store(uint32_t(int64_t(o.load(std::memory_order_relaxed)) + delta),
                std::memory_order_release);
    }
}

}  // namespace

bool host_table4_create(HostTable4 &t, uint32_t capacity, int socket) {
    if (capacity == 0) {
        rte_errno = EINVAL;
        return false;
    }
    // At most half full: 3.5 keys a bucket of seven on average, so a few per cent of
    // lookups read a second line.
    const uint64_t n = (uint64_t(capacity) * 2 + HostBucket4::kEntries - 1) / HostBucket4::kEntries;
    if (n > UINT32_MAX) {
        rte_errno = EINVAL;
        return false;
    }
    void *mem =
        rte_malloc_socket("jg_hosts4", sizeof(HostBucket4) * n, RTE_CACHE_LINE_SIZE, socket);
    if (mem == nullptr) {
        rte_errno = ENOMEM;  // rte_malloc_socket does not say
        return false;
    }
    t.buckets = static_cast<HostBucket4 *>(mem);
    t.n_buckets = uint32_t(n);
    t.capacity = capacity;
    t.count = 0;
    t.seed = 0x6a756d70;  // fixed: the keys are the operator's own addresses, not an attacker's
    for (uint64_t i = 0; i < n; ++i) {
        HostBucket4 *bk = new (&t.buckets[i]) HostBucket4;
        for (auto &e : bk->entry)
            e.store(kHostEntryEmpty, std::memory_order_relaxed);
        bk->overflow.store(0, std::memory_order_relaxed);
        bk->reserved = 0;
    }
    return true;
}

void host_table4_free(HostTable4 &t) {
    rte_free(t.buckets);
    t = HostTable4{};
}

int host_table4_set(HostTable4 &t, uint32_t ip_be, uint32_t slot) {
    if (slot == UINT32_MAX)
        return -EINVAL;  // with 255.255.255.255 it would read as an empty entry
    uint32_t b;
    unsigned i;
    if (locate(t, ip_be, b, i)) {
        t.buckets[b].entry[i].store(pack(ip_be, slot), std::memory_order_release);
        return 0;
    }
    if (t.count >= t.capacity)
        return -ENOSPC;
    // Below capacity the table is at most half full, so a free entry exists.
    b = host_table4_home(t, ip_be);
    for (;;) {
        HostBucket4 &bk = t.buckets[b];
        for (i = 0; i < HostBucket4::kEntries; ++i)
            if (bk.entry[i].load(std::memory_order_relaxed) == kHostEntryEmpty)
                break;
        if (i < HostBucket4::kEntries)
            break;
        b = host_table4_next(t, b);
    }
    // The path's counts first: a reader that finds the entry must also be able to get there.
    count_path(t, ip_be, b, +1);
    t.buckets[b].entry[i].store(pack(ip_be, slot), std::memory_order_release);
    ++t.count;
    return 0;
}

int host_table4_erase(HostTable4 &t, uint32_t ip_be) {
    uint32_t b;
    unsigned i;
    if (!locate(t, ip_be, b, i))
        return -ENOENT;
    t.buckets[b].entry[i].store(kHostEntryEmpty, std::memory_order_release);
    count_path(t, ip_be, b, -1);
    --t.count;
    return 0;
}

}  // namespace jg::dp
