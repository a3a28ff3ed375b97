// The worker pipeline's stages (classify, local replies, handshake admission, decap, encap,
// TX) and the records they pass along a burst. Hot path: each worker lcore on its own Worker.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <bit>
#include <cstdint>
#include <cstring>

#include "crypto/aead_burst.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "proto/messages.hpp"

namespace jg::dp {

enum PortSide : uint8_t { kOuterSide = 0, kInnerSide = 1 };

inline constexpr size_t kEthLen = sizeof(rte_ether_hdr);  // bytes, untagged
inline constexpr uint8_t kIpProtoUdp = 17;  // the outer protocol: IPv4 protocol, IPv6 next header

// An outer peer address: where a packet came from, or where one goes.
struct PeerAddr {
    alignas(8) uint8_t addr[16];  // network order; IPv4 in the first 4 bytes (aligned: hashed)
    uint8_t family;               // 4 or 6
    uint16_t port;                // UDP, host order
    rte_ether_addr mac;
};

// A type-4 message found on the outer port: `msg` points into m's data, `len` bytes.
struct DecapItem {
    rte_mbuf *m;
    uint8_t *msg;
    uint16_t len;
    PeerAddr src;
};

// An inner IP packet to tunnel: `ip` points into m's data, `len` = IP total length (bytes).
struct EncapItem {
    rte_mbuf *m;
    uint8_t *ip;
    uint16_t len;
    uint8_t family;
};

// ---- Single-segment length edits ----
// Every mbuf reaches the stages single-segment (classify_burst and send_control_burst drop
// the others), so the stages change the one segment's lengths directly: rte_pktmbuf_trim
// and rte_pktmbuf_append first walk m->next, in the mbuf's second line, which nothing else
// on a forwarded packet's way through the worker reads, and that read missed on every packet.

// Removes `len` bytes (<= data_len) from the end of the data.
inline void trim_segment(rte_mbuf *m, uint16_t len) {
    m->data_len = uint16_t(m->data_len - len);
    m->pkt_len -= len;
}

// Adds `len` bytes (<= rte_pktmbuf_tailroom(m), checked by the caller) to the end of the
// data; returns the first of them.
inline uint8_t *append_segment(rte_mbuf *m, uint16_t len) {
    uint8_t *tail = rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len);
    m->data_len = uint16_t(m->data_len + len);
    m->pkt_len += len;
    return tail;
}

// ---- Freeing (worker.cpp) ----
// Frees every mbuf free_later queued, in one rte_pktmbuf_free_bulk.
void free_queued(Worker &w);

// Frees m (and its segments) by the end of this loop iteration. The free reads m->next, in
// the mbuf's second line, which this core has not touched since RX (the core that freed or
// reset the mbuf last, or the producer on a ring port, wrote it), so it is usually a miss:
// fetched now and freed with the iteration's other drops, those misses overlap instead of
// stalling each drop in turn (under an initiation flood, most packets are drops).
inline void free_later(Worker &w, rte_mbuf *m) {
    WorkerLocal::FreeList &f = w.local.to_free;
    if (f.n == kFreeListSize)
        free_queued(w);
    rte_prefetch0(&m->next);
    f.pkts[f.n++] = m;
}

inline void drop(Worker &w, rte_mbuf *m, DropReason r) {
    counter_add(w.counters.drops[unsigned(r)], 1);
    free_later(w, m);
}

// A worker's token bucket kept in TSC cycles of credit: refills with time up to `max`, one
// event costs `cost`. Returns whether the event may pass.
inline bool spend_tokens(uint64_t &tokens, uint64_t &last_tsc, uint64_t now, uint64_t max,
                         uint64_t cost) {
    uint64_t t = tokens + (now - last_tsc);
    if (t > max)
        t = max;
    last_tsc = now;
    if (t < cost) {
        tokens = t;
        return false;
    }
    tokens = t - cost;
    return true;
}

inline const PortInfo &port_info(const Worker &w, PortSide side) {
    return side == kOuterSide ? w.outer : w.inner;
}

// IPv4 destinations (network order) a port never forwards to one host: multicast, the
// limited broadcast, and the port's own subnet's broadcast address. Only its own subnet's: a
// tunnelled /24 elsewhere may well hold a peer whose address ends in .255.
inline bool is_group_address4(const PortInfo &p, uint32_t dst_be) {
    const uint32_t mask = p.subnet4_mask;
    const bool subnet_broadcast = mask != 0 && mask != UINT32_MAX &&
                                  (dst_be & mask) == (p.subnet4 & mask) &&
                                  (dst_be | mask) == UINT32_MAX;
    return (rte_be_to_cpu_32(dst_be) >> 28) == 0xe || dst_be == UINT32_MAX || subnet_broadcast;
}

// True when `addr` (16 bytes) is inside the port's IPv6 subnet: its first subnet6_len bits
// equal those of the port's own address. False when no subnet is configured.
inline bool in_subnet6(const PortInfo &p, const uint8_t *addr) {
    const unsigned len = p.subnet6_len;
    if (len == 0 || len > 128)
        return false;
    const unsigned whole = len / 8;
    if (std::memcmp(addr, p.ipv6, whole) != 0)
        return false;
    const unsigned rest = len % 8;
    const uint8_t mask = uint8_t(0xff00u >> rest);
    return rest == 0 || ((addr[whole] ^ p.ipv6[whole]) & mask) == 0;
}

// The IPv4 header checksum of five 32-bit words summed as loaded from memory (the 20-byte
// header, checksum field zero): one's-complement folding, since the 16-bit halves of 32-bit
// words add up to the same sum.
inline uint16_t ipv4_checksum_of_words(uint64_t sum_of_words) {
    uint64_t sum = sum_of_words;
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// The 32-bit word that memory bytes b0..b3 load as.
constexpr uint32_t word_of_bytes(uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3) {
    if constexpr (std::endian::native == std::endian::little)
        return uint32_t(b0) | uint32_t(b1) << 8 | uint32_t(b2) << 16 | uint32_t(b3) << 24;
    else
        return uint32_t(b0) << 24 | uint32_t(b1) << 16 | uint32_t(b2) << 8 | uint32_t(b3);
}

// Writes a 20-byte IPv4 header (no options, TOS 0, no fragmentation flags) with its checksum
// at `at` (any alignment). Built and summed in registers, then stored as five words: summing
// a header in memory right after writing it field by field makes each word's load wait for
// its narrower stores to reach the cache, since a load spanning several stores is not
// forwarded from them. total_len, packet_id: host order; src, dst: network order.
inline void store_ipv4_header(uint8_t *at, uint16_t total_len, uint16_t packet_id, uint8_t ttl,
                              uint8_t proto, uint32_t src, uint32_t dst) {
    const uint32_t w0 =
        word_of_bytes(RTE_IPV4_VHL_DEF, 0, uint8_t(total_len >> 8), uint8_t(total_len));
    const uint32_t w1 = word_of_bytes(uint8_t(packet_id >> 8), uint8_t(packet_id), 0, 0);
    uint32_t w2 = word_of_bytes(ttl, proto, 0, 0);
    const uint16_t cksum = ipv4_checksum_of_words(uint64_t(w0) + w1 + w2 + src + dst);
    // The checksum, a 16-bit value stored as the words are, goes in bytes 10-11.
    w2 |= std::endian::native == std::endian::little ? uint32_t(cksum) << 16 : uint32_t(cksum);
    std::memcpy(at, &w0, 4);
    std::memcpy(at + 4, &w1, 4);
    std::memcpy(at + 8, &w2, 4);
    std::memcpy(at + 12, &src, 4);
    std::memcpy(at + 16, &dst, 4);
}

// ---- TX and rings (worker.cpp) ----
void tx_enqueue(Worker &w, PortSide side, rte_mbuf *m);
void tx_flush(Worker &w, PortSide side);
// Each consumes m (enqueued, or dropped and counted).
void hand_off(Worker &w, uint16_t owner, rte_mbuf *m);
bool send_up(Worker &w, rte_mbuf *m);
// A payload-less up event for `slot`, in a fresh mbuf from `pool`. Returns whether it went up.
bool send_up_event(Worker &w, rte_mempool *pool, MetaKind kind, const PeerAddr &src, uint32_t slot,
                   uint32_t local_index, uint64_t counter, uint64_t now);

// ---- Stages ----
// classify.cpp: every frame of one RX (or handoff) burst; m->port says which port it came on.
void classify_burst(Worker &w, rte_mbuf **pkts, uint16_t n, uint64_t now);

// local_reply.cpp: ARP (reply for our address, learning on the inner port), ICMP echo and
// ICMPv6 echo / neighbor discovery for our address. Each consumes m.
void handle_arp(Worker &w, rte_mbuf *m, PortSide side);
void reply_icmp4(Worker &w, rte_mbuf *m, PortSide side, uint16_t ihl, uint16_t total);
// The IPv6 packet's next header is ICMPv6. Returns false (m untouched) when it is neither an
// echo request to us nor neighbor discovery, so the caller goes on classifying.
bool handle_icmp6(Worker &w, rte_mbuf *m, PortSide side, bool to_us);
// m (data = an inner IP packet from the inner port, its Ethernet header still in front)
// does not fit the tunnel: answers its sender with ICMP "fragmentation needed" (IPv4, only
// when DF is set: else dropped as too_big) or ICMPv6 "packet too big", naming `mtu` (bytes,
// the largest inner packet that fits), so path MTU discovery works through the gateway.
// Rate-limited per worker (kIcmpErrorsPerSecond). Consumes m.
void reply_too_big(Worker &w, rte_mbuf *m, uint8_t family, uint16_t mtu);

// Reuses m (a packet dropped for want of a neighbor) as an ARP request for `ipv4` on the
// inner port, at most once per second per address; else frees it.
void request_neighbor4(Worker &w, rte_mbuf *m, uint32_t ipv4, uint64_t now);
// The same for IPv6: a neighbor solicitation to the target's solicited-node address.
void request_neighbor6(Worker &w, rte_mbuf *m, const uint8_t target[16], uint64_t now);

// handshake.cpp: types 1-3 (size already exact): mac1, per-source rate limit, up ring.
void admit_handshake(Worker &w, rte_mbuf *m, uint8_t *payload, uint16_t len,
                     proto::MessageType type, const PeerAddr &src, uint64_t now);

// decap.cpp
void decap_burst(Worker &w, DecapItem *items, uint16_t n, uint64_t now);

// encap.cpp
void encap_burst(Worker &w, EncapItem *items, uint16_t n);
// Down ring: SendControl mbufs (plaintext), all for sessions this worker owns.
void send_control_burst(Worker &w, rte_mbuf **pkts, uint16_t n);
// Down ring: SendRaw (m data = UDP payload).
void send_raw(Worker &w, rte_mbuf *m);
// Prepends UDP, IP and Ethernet headers for `dst` to m (data = UDP payload) and queues it on
// the outer port; counts and frees on failure.
void emit_outer(Worker &w, rte_mbuf *m, const PeerAddr &dst);

}  // namespace jg::dp
