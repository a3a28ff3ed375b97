// Classification of one received burst: which stage each frame belongs to. Hot path.
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include <cstring>
#include <span>

#include "dataplane/fragments.hpp"
#include "dataplane/pipeline.hpp"

namespace jg::dp {
namespace {

constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoIcmp6 = 58;
constexpr uint8_t kIpProtoFragment = 44;  // IPv6 fragment header

struct BurstLists {
    DecapItem decap[kBurstSize];
    uint16_t n_decap = 0;
    EncapItem encap[kBurstSize];
    uint16_t n_encap = 0;
};

// Ports are promiscuous: a frame for another host's MAC (flooded unicast, a bridge, a
// standby router) or sent as link-layer broadcast must not be tunnelled, even when its IP
// destination routes into the tunnel (RFC 1812 5.3.4); the client would get duplicates.
[[gnu::always_inline]] inline bool addressed_to_port(const rte_ether_hdr *eth, const PortInfo &p) {
    return rte_is_same_ether_addr(&eth->dst_addr, &p.mac);
}

bool ipv6_is_zero(const uint8_t *a) {
    static constexpr uint8_t kZero[16] = {};
    return std::memcmp(a, kZero, 16) == 0;
}

// A UDP datagram to our listen port on the outer port: WireGuard, by message type.
[[gnu::always_inline]] inline void classify_wireguard(Worker &w, rte_mbuf *m, uint8_t *payload,
                                                      uint16_t len, const PeerAddr &src,
                                                      uint64_t now, BurstLists &lists) {
    if (len >= 4 && payload[0] == uint8_t(proto::MessageType::transport)) {
        // Transport lengths are not checked against the 16-byte padding: wireguard-go stops
        // padding at its MTU, so a full-size plaintext is not a multiple of 16.
        if (len < proto::kTransportMinSize || payload[1] != 0 || payload[2] != 0 ||
            payload[3] != 0) {
            drop(w, m, DropReason::wg_malformed);
            return;
        }
        lists.decap[lists.n_decap++] = DecapItem{m, payload, len, src};
        return;
    }
    const proto::OuterClass c =
        proto::classify_outer_payload(std::span<const uint8_t>(payload, len));
    if (!c.ok()) {
        drop(w, m, DropReason::wg_malformed);
        return;
    }
    admit_handshake(w, m, payload, len, c.type, src, now);
}

// Returns the UDP payload bounds, or false when the datagram is inconsistent.
[[gnu::always_inline]] inline bool udp_payload(uint8_t *l4, uint32_t l4_len, uint8_t **payload,
                                               uint16_t *len, uint16_t *sport, uint16_t *dport) {
    if (l4_len < sizeof(rte_udp_hdr))
        return false;
    const auto *udp = reinterpret_cast<const rte_udp_hdr *>(l4);
    const uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
    if (ulen < sizeof(rte_udp_hdr) || ulen > l4_len)
        return false;
    *payload = l4 + sizeof(rte_udp_hdr);
    *len = uint16_t(ulen - sizeof(rte_udp_hdr));
    *sport = rte_be_to_cpu_16(udp->src_port);
    *dport = rte_be_to_cpu_16(udp->dst_port);
    return true;
}

void classify_ipv4(Worker &w, rte_mbuf *m, PortSide side, uint64_t now, BurstLists &lists) {
    const uint32_t frame = rte_pktmbuf_data_len(m);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    if (frame < kEthLen + sizeof(rte_ipv4_hdr) || (ip->version_ihl >> 4) != 4) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    const uint16_t ihl = uint16_t((ip->version_ihl & 0x0f) * 4);
    const uint16_t total = rte_be_to_cpu_16(ip->total_length);
    if (ihl < sizeof(rte_ipv4_hdr) || total < ihl || kEthLen + total > frame) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    // Ethernet pads short frames; everything after the IP packet is not ours to forward.
    trim_segment(m, uint16_t(frame - kEthLen - total));

    const PortInfo &p = port_info(w, side);
    if (p.ipv4 != 0 && ip->dst_addr == p.ipv4) {
        if (rte_be_to_cpu_16(ip->fragment_offset) &
            (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
            // Only tunnel traffic is worth the mbufs a datagram in reassembly holds.
            if (side != kOuterSide || ip->next_proto_id != kIpProtoUdp || w.fragments == nullptr) {
                drop(w, m, DropReason::fragment);
                return;
            }
            // The whole datagram has no fragment bits left, so this recurses once at most.
            if (rte_mbuf *whole = reassemble_ipv4(w, m, ip, ihl, now))
                classify_ipv4(w, whole, side, now, lists);
            return;
        }
        if (ip->next_proto_id == kIpProtoIcmp) {
            reply_icmp4(w, m, side, ihl, total);
            return;
        }
        uint8_t *payload;
        uint16_t len, sport, dport;
        if (side == kOuterSide && ip->next_proto_id == kIpProtoUdp) {
            if (!udp_payload(reinterpret_cast<uint8_t *>(ip) + ihl, total - ihl, &payload, &len,
                             &sport, &dport)) {
                drop(w, m, DropReason::malformed_l3);
                return;
            }
            if (dport != w.listen_port) {
                drop(w, m, DropReason::not_for_us);
                return;
            }
            PeerAddr src{};
            src.family = 4;
            std::memcpy(src.addr, &ip->src_addr, 4);
            src.port = sport;
            src.mac = eth->src_addr;
            classify_wireguard(w, m, payload, len, src, now, lists);
            return;
        }
        drop(w, m, DropReason::local_unhandled);
        return;
    }
    if (side == kOuterSide) {
        drop(w, m, DropReason::not_for_us);
        return;
    }
    if (is_group_address4(p, ip->dst_addr)) {
        drop(w, m, DropReason::multicast);
        return;
    }
    if (!addressed_to_port(eth, p)) {
        drop(w, m, DropReason::not_for_us);
        return;
    }
    lists.encap[lists.n_encap++] = EncapItem{m, reinterpret_cast<uint8_t *>(ip), total, 4};
}

void classify_ipv6(Worker &w, rte_mbuf *m, PortSide side, uint64_t now, BurstLists &lists) {
    const uint32_t frame = rte_pktmbuf_data_len(m);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    if (frame < kEthLen + sizeof(rte_ipv6_hdr) || (rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    const uint32_t l4_len = rte_be_to_cpu_16(ip->payload_len);
    const uint32_t total = sizeof(rte_ipv6_hdr) + l4_len;
    if (kEthLen + total > frame) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    trim_segment(m, uint16_t(frame - kEthLen - total));

    const PortInfo &p = port_info(w, side);
    const bool to_us = !ipv6_is_zero(p.ipv6) && std::memcmp(ip->dst_addr, p.ipv6, 16) == 0;
    // Neighbor solicitations for us arrive at a multicast address: check before routing.
    if (ip->proto == kIpProtoIcmp6 && handle_icmp6(w, m, side, to_us))
        return;
    if (to_us) {
        uint8_t *payload;
        uint16_t len, sport, dport;
        if (side == kOuterSide && ip->proto == kIpProtoFragment && w.fragments != nullptr &&
            l4_len >= sizeof(rte_ipv6_fragment_ext)) {
            auto *frag = reinterpret_cast<rte_ipv6_fragment_ext *>(ip + 1);
            if (frag->next_header != kIpProtoUdp) {
                drop(w, m, DropReason::fragment);
                return;
            }
            // An atomic fragment (offset 0, no more to come; RFC 6946) is the whole datagram:
            // the fragment header goes and the packet is taken as it is.
            if ((rte_be_to_cpu_16(frag->frag_data) & RTE_IPV6_FRAG_USED_MASK) == 0) {
                ip->proto = frag->next_header;
                ip->payload_len = rte_cpu_to_be_16(uint16_t(l4_len - sizeof(*frag)));
                std::memmove(rte_pktmbuf_mtod_offset(m, uint8_t *, sizeof(*frag)),
                             rte_pktmbuf_mtod(m, uint8_t *), kEthLen + sizeof(rte_ipv6_hdr));
                rte_pktmbuf_adj(m, sizeof(*frag));
                classify_ipv6(w, m, side, now, lists);
                return;
            }
            // Reassembly removes the fragment header, so this recurses once at most.
            if (rte_mbuf *whole = reassemble_ipv6(w, m, ip, frag, now))
                classify_ipv6(w, whole, side, now, lists);
            return;
        }
        if (side == kOuterSide && ip->proto == kIpProtoUdp) {
            if (!udp_payload(reinterpret_cast<uint8_t *>(ip + 1), l4_len, &payload, &len, &sport,
                             &dport)) {
                drop(w, m, DropReason::malformed_l3);
                return;
            }
            if (dport != w.listen_port) {
                drop(w, m, DropReason::not_for_us);
                return;
            }
            PeerAddr src{};
            src.family = 6;
            std::memcpy(src.addr, ip->src_addr, 16);
            src.port = sport;
            src.mac = eth->src_addr;
            classify_wireguard(w, m, payload, len, src, now, lists);
            return;
        }
        drop(w, m,
             side == kOuterSide && ip->proto != kIpProtoUdp && ip->proto != kIpProtoIcmp6
                 ? DropReason::fragment
                 : DropReason::local_unhandled);
        return;
    }
    if (side == kOuterSide) {
        drop(w, m, DropReason::not_for_us);
        return;
    }
    if (ip->dst_addr[0] == 0xff) {
        drop(w, m, DropReason::multicast);
        return;
    }
    if (!addressed_to_port(eth, p)) {
        drop(w, m, DropReason::not_for_us);
        return;
    }
    lists.encap[lists.n_encap++] =
        EncapItem{m, reinterpret_cast<uint8_t *>(ip), uint16_t(total), 6};
}

}  // namespace

void classify_burst(Worker &w, rte_mbuf **pkts, uint16_t n, uint64_t now) {
    BurstLists lists;
    // Another core or the NIC wrote each mbuf and its packet's first line: fetch every
    // header, then every first line (its address is in the header), before the first
    // packet is parsed, so the burst's misses overlap instead of queueing one by one.
    for (uint16_t i = 0; i < n; ++i)
        rte_prefetch0(pkts[i]);
    for (uint16_t i = 0; i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf *m = pkts[i];
        PortSide side;
        if (m->port == w.outer.port_id) {
            side = kOuterSide;
        } else if (m->port == w.inner.port_id) {
            side = kInnerSide;
        } else {
            drop(w, m, DropReason::unclassified);
            continue;
        }
        if (m->nb_segs != 1) {
            drop(w, m, DropReason::multi_segment);
            continue;
        }
        if (rte_pktmbuf_data_len(m) < kEthLen) {
            drop(w, m, DropReason::malformed_l3);
            continue;
        }
        const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
        switch (rte_be_to_cpu_16(eth->ether_type)) {
            case RTE_ETHER_TYPE_ARP:
                handle_arp(w, m, side);
                break;
            case RTE_ETHER_TYPE_IPV4:
                classify_ipv4(w, m, side, now, lists);
                break;
            case RTE_ETHER_TYPE_IPV6:
                classify_ipv6(w, m, side, now, lists);
                break;
            default:
                drop(w, m, DropReason::unclassified);
                break;
        }
    }
    if (w.fragments != nullptr)
        release_fragments(w);
    decap_burst(w, lists.decap, lists.n_decap, now);
    encap_burst(w, lists.encap, lists.n_encap);
}

}  // namespace jg::dp
