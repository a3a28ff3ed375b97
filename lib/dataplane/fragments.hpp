// Reassembly of fragmented outer datagrams (UDP to the gateway's outer address, IPv4 and IPv6):
// the per-worker table the control path creates, and the calls the worker's classify stage makes.
#pragma once

#include <rte_config.h>

#include <cstdint>
#include <memory>

#include "base/result.hpp"

struct rte_ip_frag_tbl;
struct rte_mbuf;
struct rte_ipv4_hdr;
struct rte_ipv6_hdr;

namespace jg::dp {

struct Worker;

// Fragments one datagram may arrive in; a datagram in more is dropped whole (DPDK's limit).
// A reassembled datagram must also fit the first fragment's mbuf (every stage works on one
// segment): 2,048 bytes of frame with the gateway's pool.
inline constexpr uint32_t kMaxFragmentsPerDatagram = RTE_LIBRTE_IP_FRAG_MAX_FRAG;

struct FragmentTableFree {
    void operator()(rte_ip_frag_tbl *t) const noexcept;  // frees the mbufs it still holds
};
// One worker's datagrams being reassembled. Only that worker's lcore may use it while the
// worker runs; destroy it after the worker stopped, before its mempool goes.
using FragmentTable = std::unique_ptr<rte_ip_frag_tbl, FragmentTableFree>;

// Control path. Room for `datagrams` datagrams in reassembly at once (1..65536); a datagram
// whose fragments are not all in within `timeout_ms` (1..60000) is dropped. Holds up to
// datagrams * kMaxFragmentsPerDatagram mbufs, which the mempool must be sized for.
jg::Result<FragmentTable> create_fragment_table(uint32_t datagrams, uint32_t timeout_ms,
                                                int socket);

// ---- Hot path: the owning worker's lcore ----
// m is a fragment addressed to us (Ethernet header at its data start, trimmed to the IP
// packet). The table keeps it until its datagram is whole; returns the datagram as one
// single-segment, unfragmented mbuf (the IP header rewritten), or nullptr while fragments
// are missing or when the datagram cannot be reassembled (dropped as `fragment`).
rte_mbuf *reassemble_ipv4(Worker &w, rte_mbuf *m, rte_ipv4_hdr *ip, uint16_t ihl, uint64_t now);
// frag_hdr: the fragment header right after ip's fixed header.
rte_mbuf *reassemble_ipv6(Worker &w, rte_mbuf *m, rte_ipv6_hdr *ip, void *frag_hdr, uint64_t now);
// Frees what reassembly gave up (counted as `fragment` drops); after every burst classified,
// as DPDK's death row holds one burst's worth.
void release_fragments(Worker &w);
// Gives up datagrams older than the timeout; the worker loop calls it at most once a ms.
void expire_fragments(Worker &w, uint64_t now);

}  // namespace jg::dp
