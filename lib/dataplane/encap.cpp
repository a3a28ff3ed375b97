// Transport data out (type 4): inner packets and control-core messages sealed under the
// session's current keypair in one AEAD burst, then outer UDP/IP/Ethernet to the binding.
// Hot path; only a session's owner seals for it (single writer of the send counter).
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"

namespace jg::dp {
namespace {

constexpr uint8_t kOuterTtl = 64;
// Bytes sealing puts in front of the inner packet at most: Ethernet, IPv6, UDP and the
// transport header.
constexpr size_t kOuterHeadersMax =
    kEthLen + sizeof(rte_ipv6_hdr) + sizeof(rte_udp_hdr) + proto::kTransportHeaderSize;

struct SealJob {
    rte_mbuf *m;
    SessionEntry *se;
    PeerAddr dst;
    uint16_t plain_len;  // bytes before padding
};

// The largest plaintext (bytes) that fits the outer MTU over an outer address of `family`.
uint32_t plaintext_budget(const Worker &w, uint8_t outer_family) {
    const uint32_t overhead = (outer_family == 4 ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr)) +
                              sizeof(rte_udp_hdr) + proto::kTransportMinSize;
    return w.outer.mtu > overhead ? w.outer.mtu - overhead : 0;
}

// Turns m (data = plaintext, `len` bytes) into an unsealed type-4 message: header in front,
// zero padding to 16 (never past what the outer MTU allows, as WireGuard does) and room for
// the tag behind. Takes a counter only once nothing can fail any more.
bool frame_transport(const Worker &w, rte_mbuf *m, Keypair &kp, uint16_t len, uint8_t outer_family,
                     crypto::AeadOp &op, DropReason &why) {
    const uint32_t budget = plaintext_budget(w, outer_family);
    if (len > budget) {
        why = DropReason::too_big;
        return false;
    }
    uint32_t padded = (uint32_t(len) + proto::kPaddingMultiple - 1) / proto::kPaddingMultiple *
                      proto::kPaddingMultiple;
    if (padded > budget)
        padded = budget;
    const uint64_t counter = kp.send_counter.load(std::memory_order_relaxed);
    if (counter >= proto::kRejectAfterMessages) {
        why = DropReason::counter_exhausted;
        return false;
    }
    if (rte_pktmbuf_tailroom(m) < padded - len + proto::kTagSize ||
        rte_pktmbuf_headroom(m) <
            proto::kTransportHeaderSize + kEthLen + sizeof(rte_ipv6_hdr) + sizeof(rte_udp_hdr)) {
        why = DropReason::no_room;
        return false;
    }
    uint8_t *tail = append_segment(m, uint16_t(padded - len + proto::kTagSize));
    // The padding (0-15 bytes) is followed by the tag's 16: one fixed 16-byte store zeroes
    // it without a call to memset, and the tag bytes it also writes are sealed over.
    static_assert(proto::kPaddingMultiple - 1 <= proto::kTagSize);
    std::memset(tail, 0, proto::kTagSize);
    auto *hdr =
        reinterpret_cast<uint8_t *>(rte_pktmbuf_prepend(m, uint16_t(proto::kTransportHeaderSize)));
    counter_set(kp.send_counter, counter + 1);
    hdr[0] = uint8_t(proto::MessageType::transport);
    hdr[1] = hdr[2] = hdr[3] = 0;
    proto::store_le32(hdr + proto::transport_off::receiver, kp.remote_index);
    proto::store_le64(hdr + proto::transport_off::counter, counter);
    op = crypto::AeadOp{hdr + proto::transport_off::content, padded, kp.send_key, counter, 0};
    return true;
}

void seal_and_emit(Worker &w, SealJob *jobs, crypto::AeadOp *ops, uint16_t n) {
    if (n == 0)
        return;
    w.aead->seal_burst(ops, n);
    for (uint16_t j = 0; j < n; ++j) {
        if (!ops[j].ok) {
            drop(w, jobs[j].m, DropReason::seal_failed);
            continue;
        }
        counter_add(jobs[j].se->tx_packets, 1);
        counter_add(jobs[j].se->tx_bytes, jobs[j].plain_len);
        counter_add(w.counters.encrypted, 1);
        emit_outer(w, jobs[j].m, jobs[j].dst);
    }
}

void peer_from_binding(const Binding &b, PeerAddr &dst) {
    dst.family = b.family;
    std::memcpy(dst.addr, b.addr, sizeof(dst.addr));
    dst.port = b.port;
    dst.mac = b.l2_dst;
}

}  // namespace

void emit_outer(Worker &w, rte_mbuf *m, const PeerAddr &dst) {
    const PortInfo &out = w.outer;
    const uint16_t udp_len = uint16_t(rte_pktmbuf_data_len(m) + sizeof(rte_udp_hdr));
    const size_t ip_len = dst.family == 4 ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(
        rte_pktmbuf_prepend(m, uint16_t(kEthLen + ip_len + sizeof(rte_udp_hdr))));
    if (eth == nullptr) {
        drop(w, m, DropReason::no_room);
        return;
    }
    eth->dst_addr = dst.mac;
    eth->src_addr = out.mac;
    auto *l3 = reinterpret_cast<uint8_t *>(eth + 1);
    auto *udp = reinterpret_cast<rte_udp_hdr *>(l3 + ip_len);
    udp->src_port = rte_cpu_to_be_16(w.listen_port);
    udp->dst_port = rte_cpu_to_be_16(dst.port);
    udp->dgram_len = rte_cpu_to_be_16(udp_len);
    udp->dgram_cksum = 0;
    if (dst.family == 4) {
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        uint32_t dst_addr;
        std::memcpy(&dst_addr, dst.addr, 4);
        store_ipv4_header(l3, uint16_t(ip_len + udp_len), w.local.ipv4_id++, kOuterTtl, kIpProtoUdp,
                          out.ipv4, dst_addr);
        // UDP checksum 0: allowed over IPv4, and the AEAD tag already covers the payload.
    } else {
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        auto *ip = reinterpret_cast<rte_ipv6_hdr *>(l3);
        ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
        ip->payload_len = rte_cpu_to_be_16(udp_len);
        ip->proto = kIpProtoUdp;
        ip->hop_limits = kOuterTtl;
        std::memcpy(ip->src_addr, out.ipv6, 16);
        std::memcpy(ip->dst_addr, dst.addr, 16);
        // IPv6 forbids a zero UDP checksum (RFC 8200 section 8.1).
        udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
    }
    m->port = out.port_id;
    tx_enqueue(w, kOuterSide, m);
}

void encap_burst(Worker &w, EncapItem *items, uint16_t n) {
    if (n == 0)
        return;
    Tables &t = *w.tables;
    // Sealing writes the outer headers into the headroom line in front of the frame and the
    // padding and tag behind the inner packet: lines nothing has read since the mbuf was last
    // used. Fetching them now overlaps those misses with the lookups below. Frames start on
    // a cache line, so the outer headers' first byte, IPv4 or IPv6, is on the line before the
    // frame's and the rest on the frame's first line, which classify fetched. (A plain
    // prefetch: the x86-64-v3 baseline has no PREFETCHW.)
    for (uint16_t i = 0; i < n; ++i) {
        rte_prefetch0(items[i].ip - kOuterHeadersMax);
        rte_prefetch0(items[i].ip + items[i].len);
    }
    // One bulk lookup for the burst's IPv4 destinations.
    uint32_t dst4[kBurstSize];
    uint32_t slot4[kBurstSize];
    uint16_t n4 = 0;
    for (uint16_t i = 0; i < n; ++i)
        if (items[i].family == 4)
            std::memcpy(&dst4[n4++], items[i].ip + 16, 4);
    static_assert(kBurstSize <= kRouteBulkMax);
    if (n4 != 0) {
        route4_bulk(t, dst4, slot4, n4);
        // With many sessions each slot, keypair and binding is a cache miss: start them all,
        // one dependency level at a time, before the first is used.
        for (uint16_t i = 0; i < n4; ++i)
            if (slot4[i] < t.max_sessions)
                rte_prefetch0(&t.sessions[slot4[i]]);
        for (uint16_t i = 0; i < n4; ++i) {
            if (slot4[i] >= t.max_sessions)
                continue;
            const SessionEntry &se = t.sessions[slot4[i]];
            prefetch_keypair_send(se.current.load(std::memory_order_relaxed));
            rte_prefetch0(se.binding.load(std::memory_order_relaxed));
            rte_prefetch0(&se.tx_packets);  // the counter line every sealed packet writes
        }
    }
    SealJob jobs[kBurstSize];
    crypto::AeadOp ops[kBurstSize];
    uint16_t n_jobs = 0;
    uint16_t next4 = 0;
    for (uint16_t i = 0; i < n; ++i) {
        EncapItem &it = items[i];
        const uint32_t slot = it.family == 4 ? slot4[next4++] : route6(t, it.ip + 24);
        if (slot >= t.max_sessions) {
            drop(w, it.m, DropReason::no_route);
            continue;
        }
        SessionEntry &se = t.sessions[slot];
        if (!(se.flags.load(std::memory_order_acquire) & kSessionLive)) {
            drop(w, it.m, DropReason::session_dead);
            continue;
        }
        const uint16_t owner = se.owner.load(std::memory_order_relaxed);
        if (owner != w.index) {
            hand_off(w, owner, it.m);
            continue;
        }
        Keypair *kp = se.current.load(std::memory_order_acquire);
        if (kp == nullptr) {
            drop(w, it.m, DropReason::no_keypair);
            continue;
        }
        // One acquire load per packet: the Binding is immutable, so its fields agree.
        const Binding *b = se.binding.load(std::memory_order_acquire);
        if (b == nullptr) {
            drop(w, it.m, DropReason::no_binding);
            continue;
        }
        SealJob &job = jobs[n_jobs];
        job.m = it.m;
        job.se = &se;
        job.plain_len = it.len;
        peer_from_binding(*b, job.dst);
        rte_pktmbuf_adj(it.m, uint16_t(it.ip - rte_pktmbuf_mtod(it.m, uint8_t *)));
        DropReason why;
        if (!frame_transport(w, it.m, *kp, it.len, job.dst.family, ops[n_jobs], why)) {
            if (why == DropReason::too_big)
                reply_too_big(
                    w, it.m, it.family,
                    uint16_t(std::min<uint32_t>(plaintext_budget(w, job.dst.family), UINT16_MAX)));
            else
                drop(w, it.m, why);
            continue;
        }
        ++n_jobs;
    }
    seal_and_emit(w, jobs, ops, n_jobs);
}

void send_control_burst(Worker &w, rte_mbuf **pkts, uint16_t n) {
    Tables &t = *w.tables;
    SealJob jobs[kBurstSize];
    crypto::AeadOp ops[kBurstSize];
    uint16_t n_jobs = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf *m = pkts[i];
        const PacketMeta &meta = *packet_meta(m);
        if (meta.session_slot >= t.max_sessions || (meta.family != 4 && meta.family != 6) ||
            m->nb_segs != 1) {
            drop(w, m, DropReason::down_malformed);
            continue;
        }
        SessionEntry &se = t.sessions[meta.session_slot];
        if (se.owner.load(std::memory_order_relaxed) != w.index) {
            drop(w, m, DropReason::not_owner);
            continue;
        }
        Keypair *kp = se.current.load(std::memory_order_acquire);
        if (kp == nullptr) {
            drop(w, m, DropReason::no_keypair);
            continue;
        }
        SealJob &job = jobs[n_jobs];
        job.m = m;
        job.se = &se;
        job.plain_len = uint16_t(rte_pktmbuf_data_len(m));
        job.dst.family = meta.family;
        std::memcpy(job.dst.addr, meta.src_addr, sizeof(job.dst.addr));
        job.dst.port = meta.src_port;
        job.dst.mac = meta.src_mac;
        DropReason why;
        if (!frame_transport(w, m, *kp, job.plain_len, job.dst.family, ops[n_jobs], why)) {
            drop(w, m, why);
            continue;
        }
        ++n_jobs;
    }
    seal_and_emit(w, jobs, ops, n_jobs);
}

void send_raw(Worker &w, rte_mbuf *m) {
    const PacketMeta &meta = *packet_meta(m);
    if ((meta.family != 4 && meta.family != 6) || m->nb_segs != 1) {
        drop(w, m, DropReason::down_malformed);
        return;
    }
    PeerAddr dst;
    dst.family = meta.family;
    std::memcpy(dst.addr, meta.src_addr, sizeof(dst.addr));
    dst.port = meta.src_port;
    dst.mac = meta.src_mac;
    emit_outer(w, m, dst);
}

}  // namespace jg::dp
