// Outer datagram reassembly over DPDK's rte_ip_frag: the table per worker, then linearising
// what it returns, since every later stage expects one segment. Hot path except creation.
#include "dataplane/fragments.hpp"

#include <rte_cycles.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include <string>

#include "dataplane/pipeline.hpp"

namespace jg::dp {
namespace {

// Entries per hash bucket (associativity); DPDK wants a power of two.
constexpr uint32_t kBucketEntries = 8;
// The death row is freed after every burst classified; DPDK sizes it for one burst of
// RTE_IP_FRAG_DEATH_ROW_LEN packets, each able to give up a whole datagram.
static_assert(kBurstSize <= RTE_IP_FRAG_DEATH_ROW_LEN);

// A whole datagram from the table, made one segment as every stage expects: its fragments
// are copied behind the first, which fails when they do not fit the first one's buffer.
rte_mbuf *linearize_reassembled(Worker &w, rte_mbuf *whole) {
    // DPDK asks TX to redo the outer IPv4 checksum it zeroed; this mbuf leaves, if at all, as
    // a decrypted inner packet the offload flags know nothing of.
    whole->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
    if (rte_pktmbuf_linearize(whole) != 0) {
        counter_add(w.counters.drops[unsigned(DropReason::fragment)], whole->nb_segs);
        free_later(w, whole);
        return nullptr;
    }
    counter_add(w.counters.reassembled, 1);
    return whole;
}

}  // namespace

void FragmentTableFree::operator()(rte_ip_frag_tbl *t) const noexcept {
    rte_ip_frag_table_destroy(t);
}

jg::Result<FragmentTable> create_fragment_table(uint32_t datagrams, uint32_t timeout_ms,
                                                int socket) {
    if (datagrams == 0 || datagrams > 65536)
        return jg::make_error("reassembly",
                              "datagrams must be 1..65536, got " + std::to_string(datagrams));
    if (timeout_ms == 0 || timeout_ms > 60000)
        return jg::make_error("reassembly",
                              "timeout must be 1..60000 ms, got " + std::to_string(timeout_ms));
    const uint32_t buckets = (datagrams + kBucketEntries - 1) / kBucketEntries;
    const uint64_t max_cycles = (rte_get_tsc_hz() + 999) / 1000 * timeout_ms;
    rte_ip_frag_tbl *t =
        rte_ip_frag_table_create(buckets, kBucketEntries, datagrams, max_cycles, socket);
    if (t == nullptr)
        return jg::make_error("reassembly", "cannot allocate a table for " +
                                                std::to_string(datagrams) + " datagrams");
    return FragmentTable(t);
}

rte_mbuf *reassemble_ipv4(Worker &w, rte_mbuf *m, rte_ipv4_hdr *ip, uint16_t ihl, uint64_t now) {
    m->l2_len = kEthLen;
    m->l3_len = ihl;
    rte_mbuf *whole =
        rte_ipv4_frag_reassemble_packet(w.fragments, &w.local.fragment_death_row, m, now, ip);
    return whole != nullptr ? linearize_reassembled(w, whole) : nullptr;
}

rte_mbuf *reassemble_ipv6(Worker &w, rte_mbuf *m, rte_ipv6_hdr *ip, void *frag_hdr, uint64_t now) {
    m->l2_len = kEthLen;
    m->l3_len = sizeof(rte_ipv6_hdr) + sizeof(rte_ipv6_fragment_ext);
    rte_mbuf *whole =
        rte_ipv6_frag_reassemble_packet(w.fragments, &w.local.fragment_death_row, m, now, ip,
                                        static_cast<rte_ipv6_fragment_ext *>(frag_hdr));
    return whole != nullptr ? linearize_reassembled(w, whole) : nullptr;
}

void release_fragments(Worker &w) {
    rte_ip_frag_death_row &dr = w.local.fragment_death_row;
    if (dr.cnt == 0)
        return;
    counter_add(w.counters.drops[unsigned(DropReason::fragment)], dr.cnt);
    rte_ip_frag_free_death_row(&dr, 0);
}

void expire_fragments(Worker &w, uint64_t now) {
    rte_ip_frag_table_del_expired_entries(w.fragments, &w.local.fragment_death_row, now);
    release_fragments(w);
}

}  // namespace jg::dp
