// Answers for our own addresses (ARP, ICMP echo, ICMPv6 echo and neighbor discovery) and
// neighbor learning on the inner port. Hot path: replies are built in the received mbuf.
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"

namespace jg::dp {
namespace {

constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr uint8_t kNdSolicit = 135;
constexpr uint8_t kNdAdvert = 136;
constexpr uint8_t kNdOptSourceLl = 1;
constexpr uint8_t kNdOptTargetLl = 2;
constexpr size_t kNdFixedLen = 24;    // type, code, checksum, flags/reserved, target
constexpr uint8_t kNdHopLimit = 255;  // RFC 4861: anything else crossed a router
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoIcmp6 = 58;
constexpr uint8_t kIcmpUnreachable = 3;
constexpr uint8_t kIcmpFragNeeded = 4;
constexpr uint8_t kIcmp6PacketTooBig = 2;
constexpr size_t kIcmpHeaderLen = 8;  // type, code, checksum, and 4 bytes (unused/MTU)
// How much of the offending packet an error quotes: as much as keeps the error within the
// minimum MTU (576 bytes for IPv4, RFC 1812; 1280 for IPv6, RFC 4443).
constexpr uint16_t kIcmp4Quote = 576 - sizeof(rte_ipv4_hdr) - kIcmpHeaderLen;
constexpr uint16_t kIcmp6Quote = 1280 - sizeof(rte_ipv6_hdr) - kIcmpHeaderLen;

bool icmp_error_due(Worker &w) {
    WorkerLocal &l = w.local;
    const uint64_t cost = l.tsc_hz / kIcmpErrorsPerSecond;
    return spend_tokens(l.icmp_error_tokens, l.icmp_error_last_tsc, rte_rdtsc(),
                        cost * kIcmpErrorBurst, cost);
}

// Reports an inner-port neighbor to the control core, the only table writer.
void report_neighbor(Worker &w, rte_mempool *pool, uint8_t family, const uint8_t *addr,
                     const rte_ether_addr &mac, uint16_t port_id) {
    rte_mbuf *e = rte_pktmbuf_alloc(pool);
    if (e == nullptr) {
        counter_add(w.counters.drops[unsigned(DropReason::event_ring_full)], 1);
        return;
    }
    PacketMeta *meta = packet_meta(e);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = MetaKind::NeighborLearned;
    meta->family = family;
    meta->worker = w.index;
    meta->port_id = port_id;
    std::memcpy(meta->src_addr, addr, family == 4 ? 4 : 16);
    meta->src_mac = mac;
    meta->session_slot = kNoSession;
    send_up(w, e);
}

void swap_to_sender(rte_ether_hdr *eth, const rte_ether_addr &ours) {
    eth->dst_addr = eth->src_addr;
    eth->src_addr = ours;
}

// The link-layer address option of an NS/NA, if present and well formed.
const rte_ether_addr *nd_ll_option(const uint8_t *opts, size_t len, uint8_t type) {
    while (len >= 8) {
        const size_t olen = size_t(opts[1]) * 8;
        if (olen == 0 || olen > len)
            return nullptr;
        if (opts[0] == type && olen == 8)
            return reinterpret_cast<const rte_ether_addr *>(opts + 2);
        opts += olen;
        len -= olen;
    }
    return nullptr;
}

// Rewrites a neighbor solicitation for our address into the advertisement answering it.
void answer_solicitation(Worker &w, rte_mbuf *m, PortSide side, rte_ipv6_hdr *ip, uint8_t *icmp) {
    const PortInfo &p = port_info(w, side);
    static constexpr uint8_t kZero[16] = {};
    static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const bool dad = std::memcmp(ip->src_addr, kZero, 16) == 0;
    constexpr uint16_t kNaLen = kNdFixedLen + 8;
    const uint32_t want = kEthLen + sizeof(rte_ipv6_hdr) + kNaLen;
    const uint32_t have = rte_pktmbuf_data_len(m);
    if (have < want && rte_pktmbuf_append(m, uint16_t(want - have)) == nullptr) {
        drop(w, m, DropReason::no_room);
        return;
    }
    if (have > want)
        rte_pktmbuf_trim(m, uint16_t(have - want));
    std::memcpy(ip->dst_addr, dad ? kAllNodes : ip->src_addr, 16);
    std::memcpy(ip->src_addr, p.ipv6, 16);
    ip->payload_len = rte_cpu_to_be_16(kNaLen);
    ip->hop_limits = kNdHopLimit;
    icmp[0] = kNdAdvert;
    icmp[1] = 0;
    // Solicited (unless answering duplicate address detection) and override.
    icmp[4] = dad ? 0x20 : 0x60;
    icmp[5] = icmp[6] = icmp[7] = 0;
    // icmp[8..24) already holds the target: our address.
    icmp[24] = kNdOptTargetLl;
    icmp[25] = 1;
    std::memcpy(icmp + 26, p.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    icmp[2] = icmp[3] = 0;
    const uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);
    std::memcpy(icmp + 2, &ck, 2);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    swap_to_sender(eth, p.mac);
    if (dad)
        eth->dst_addr = rte_ether_addr{{0x33, 0x33, 0, 0, 0, 1}};
    counter_add(w.counters.local_replies, 1);
    tx_enqueue(w, side, m);
}

}  // namespace

void handle_arp(Worker &w, rte_mbuf *m, PortSide side) {
    const PortInfo &p = port_info(w, side);
    if (rte_pktmbuf_data_len(m) < kEthLen + sizeof(rte_arp_hdr)) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *arp = reinterpret_cast<rte_arp_hdr *>(eth + 1);
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
        arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4) {
        drop(w, m, DropReason::malformed_l3);
        return;
    }
    const uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
    const uint32_t sip = arp->arp_data.arp_sip;
    const uint32_t tip = arp->arp_data.arp_tip;
    const rte_ether_addr sha = arp->arp_data.arp_sha;
    bool learned = false;
    // Only neighbors the inner port reaches directly (its subnet, its next hop) are learned:
    // every other sender address, gratuitous or forged, would take a place in the bounded
    // neighbor table for good. With no subnet configured there is nothing to check against.
    const bool reachable = p.subnet4_mask == 0 || (sip & p.subnet4_mask) == p.subnet4 ||
                           (p.next_hop4 != 0 && sip == p.next_hop4);
    if (side == kInnerSide && sip != 0 && sip != p.ipv4 && reachable &&
        !is_group_address4(p, sip) && (op == RTE_ARP_OP_REQUEST || op == RTE_ARP_OP_REPLY)) {
        report_neighbor(w, m->pool, 4, reinterpret_cast<const uint8_t *>(&sip), sha, m->port);
        learned = true;
    }
    if (op == RTE_ARP_OP_REQUEST && p.ipv4 != 0 && tip == p.ipv4) {
        arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
        arp->arp_data.arp_tha = sha;
        arp->arp_data.arp_tip = sip;
        arp->arp_data.arp_sha = p.mac;
        arp->arp_data.arp_sip = p.ipv4;
        swap_to_sender(eth, p.mac);
        counter_add(w.counters.local_replies, 1);
        tx_enqueue(w, side, m);
        return;
    }
    if (learned) {
        free_later(w, m);  // consumed: its content went up as a NeighborLearned
        return;
    }
    drop(w, m, DropReason::arp_ignored);
}

void reply_icmp4(Worker &w, rte_mbuf *m, PortSide side, uint16_t ihl, uint16_t total) {
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    auto *icmp = reinterpret_cast<rte_icmp_hdr *>(reinterpret_cast<uint8_t *>(ip) + ihl);
    const uint16_t icmp_len = uint16_t(total - ihl);
    if (icmp_len < sizeof(rte_icmp_hdr) || icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
        icmp->icmp_code != 0) {
        drop(w, m, DropReason::local_unhandled);
        return;
    }
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = uint16_t(~rte_raw_cksum(icmp, icmp_len));
    const uint32_t peer = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = peer;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    swap_to_sender(eth, port_info(w, side).mac);
    counter_add(w.counters.local_replies, 1);
    tx_enqueue(w, side, m);
}

bool handle_icmp6(Worker &w, rte_mbuf *m, PortSide side, bool to_us) {
    const PortInfo &p = port_info(w, side);
    auto *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    auto *icmp = reinterpret_cast<uint8_t *>(ip + 1);
    const uint16_t len = rte_be_to_cpu_16(ip->payload_len);
    if (len < 4)
        return false;
    const uint8_t type = icmp[0];
    if (type == kIcmp6EchoRequest && to_us && len >= 8) {
        icmp[0] = kIcmp6EchoReply;
        uint8_t peer[16];
        std::memcpy(peer, ip->src_addr, 16);
        std::memcpy(ip->src_addr, ip->dst_addr, 16);
        std::memcpy(ip->dst_addr, peer, 16);
        ip->hop_limits = 64;
        icmp[2] = icmp[3] = 0;
        const uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);
        std::memcpy(icmp + 2, &ck, 2);
        swap_to_sender(eth, p.mac);
        counter_add(w.counters.local_replies, 1);
        tx_enqueue(w, side, m);
        return true;
    }
    if ((type != kNdSolicit && type != kNdAdvert) || len < kNdFixedLen)
        return false;
    if (ip->hop_limits != kNdHopLimit) {
        drop(w, m, DropReason::malformed_l3);
        return true;
    }
    const uint8_t *target = icmp + 8;
    const rte_ether_addr *ll = nd_ll_option(icmp + kNdFixedLen, len - kNdFixedLen,
                                            type == kNdSolicit ? kNdOptSourceLl : kNdOptTargetLl);
    static constexpr uint8_t kZero[16] = {};
    if (side == kInnerSide) {
        // A solicitation teaches its source; an advertisement teaches its target. As for ARP,
        // only neighbors the port reaches directly (its subnet, its next hop) take a place in
        // the bounded table; multicast and our own address never do.
        const uint8_t *who = type == kNdSolicit ? ip->src_addr : target;
        const bool reachable =
            p.subnet6_len == 0 || in_subnet6(p, who) || std::memcmp(who, p.next_hop6, 16) == 0;
        if (std::memcmp(who, kZero, 16) != 0 && who[0] != 0xff &&
            std::memcmp(who, p.ipv6, 16) != 0 && reachable)
            report_neighbor(w, m->pool, 6, who, ll != nullptr ? *ll : eth->src_addr, m->port);
    }
    if (type == kNdSolicit && std::memcmp(p.ipv6, kZero, 16) != 0 &&
        std::memcmp(target, p.ipv6, 16) == 0) {
        answer_solicitation(w, m, side, ip, icmp);
        return true;
    }
    if (side == kInnerSide)
        free_later(w, m);  // consumed by learning
    else
        drop(w, m, DropReason::multicast);
    return true;
}

namespace {

// At most one request per second per address: a flood towards an absent host must not
// become a flood of requests. `key` identifies the address (IPv4, or a hash of the IPv6).
bool neighbor_request_due(Worker &w, uint32_t key, uint64_t now) {
    WorkerLocal::ArpRecord &rec = w.local.arp_sent[(key * 2654435761u >> 26) % kArpRecords];
    if (rec.ipv4 == key && now - rec.tsc < w.local.tsc_hz)
        return false;
    rec.ipv4 = key;
    rec.tsc = now;
    return true;
}

}  // namespace

void reply_too_big(Worker &w, rte_mbuf *m, uint8_t family, uint16_t mtu) {
    counter_add(w.counters.drops[unsigned(DropReason::too_big)], 1);
    const PortInfo &in = w.inner;
    const uint8_t *orig = rte_pktmbuf_mtod(m, const uint8_t *);
    const uint16_t len = rte_pktmbuf_data_len(m);
    const size_t ip_len = family == 4 ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr);
    static constexpr uint8_t kZero6[16] = {};
    // The answer goes from our inner address to the sender, through whoever put the frame
    // on the wire (its Ethernet header is still in front of the packet).
    if (len < ip_len || rte_pktmbuf_headroom(m) < kEthLen + ip_len + kIcmpHeaderLen ||
        (family == 4 ? in.ipv4 == 0 : std::memcmp(in.ipv6, kZero6, 16) == 0)) {
        free_later(w, m);
        return;
    }
    rte_ether_addr sender_mac;
    std::memcpy(&sender_mac, orig - kEthLen + RTE_ETHER_ADDR_LEN, sizeof(sender_mac));
    if (family == 4) {
        const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(orig);
        // Without DF a router would fragment, which a tunnel does not: no error, as before.
        if (!(rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_DF_FLAG) || ip->src_addr == 0 ||
            !icmp_error_due(w)) {
            free_later(w, m);
            return;
        }
        const uint32_t to = ip->src_addr;
        const uint16_t quoted = std::min(len, kIcmp4Quote);
        trim_segment(m, uint16_t(len - quoted));
        auto *eth = reinterpret_cast<rte_ether_hdr *>(
            rte_pktmbuf_prepend(m, uint16_t(kEthLen + ip_len + kIcmpHeaderLen)));
        uint8_t *icmp = reinterpret_cast<uint8_t *>(eth + 1) + ip_len;
        icmp[0] = kIcmpUnreachable;
        icmp[1] = kIcmpFragNeeded;
        icmp[2] = icmp[3] = icmp[4] = icmp[5] = 0;
        icmp[6] = uint8_t(mtu >> 8);
        icmp[7] = uint8_t(mtu);
        const uint16_t ck = uint16_t(~rte_raw_cksum(icmp, kIcmpHeaderLen + quoted));
        std::memcpy(icmp + 2, &ck, 2);
        store_ipv4_header(reinterpret_cast<uint8_t *>(eth + 1),
                          uint16_t(ip_len + kIcmpHeaderLen + quoted), w.local.ipv4_id++, 64,
                          kIpProtoIcmp, in.ipv4, to);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        eth->dst_addr = sender_mac;
    } else {
        const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(orig);
        if (std::memcmp(ip->src_addr, kZero6, 16) == 0 || ip->src_addr[0] == 0xff ||
            !icmp_error_due(w)) {
            free_later(w, m);
            return;
        }
        uint8_t to[16];
        std::memcpy(to, ip->src_addr, 16);
        const uint16_t quoted = std::min(len, kIcmp6Quote);
        trim_segment(m, uint16_t(len - quoted));
        auto *eth = reinterpret_cast<rte_ether_hdr *>(
            rte_pktmbuf_prepend(m, uint16_t(kEthLen + ip_len + kIcmpHeaderLen)));
        auto *ip6 = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
        ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
        ip6->payload_len = rte_cpu_to_be_16(uint16_t(kIcmpHeaderLen + quoted));
        ip6->proto = kIpProtoIcmp6;
        ip6->hop_limits = 64;
        std::memcpy(ip6->src_addr, in.ipv6, 16);
        std::memcpy(ip6->dst_addr, to, 16);
        uint8_t *icmp = reinterpret_cast<uint8_t *>(ip6 + 1);
        icmp[0] = kIcmp6PacketTooBig;
        icmp[1] = icmp[2] = icmp[3] = icmp[4] = icmp[5] = 0;
        icmp[6] = uint8_t(mtu >> 8);
        icmp[7] = uint8_t(mtu);
        const uint16_t ck = rte_ipv6_udptcp_cksum(ip6, icmp);
        std::memcpy(icmp + 2, &ck, 2);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        eth->dst_addr = sender_mac;
    }
    rte_ether_hdr *eth = rte_pktmbuf_mtod(m, rte_ether_hdr *);
    eth->src_addr = in.mac;
    m->port = in.port_id;
    counter_add(w.counters.local_replies, 1);
    tx_enqueue(w, kInnerSide, m);
}

void request_neighbor4(Worker &w, rte_mbuf *m, uint32_t ipv4, uint64_t now) {
    counter_add(w.counters.drops[unsigned(DropReason::neighbor_unknown)], 1);
    const PortInfo &in = w.inner;
    if (in.ipv4 == 0 || !neighbor_request_due(w, ipv4, now)) {
        free_later(w, m);
        return;
    }
    rte_pktmbuf_reset(m);
    auto *eth =
        reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_append(m, kEthLen + sizeof(rte_arp_hdr)));
    if (eth == nullptr) {
        free_later(w, m);
        return;
    }
    std::memset(eth, 0xff, sizeof(eth->dst_addr));
    eth->src_addr = in.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    auto *arp = reinterpret_cast<rte_arp_hdr *>(eth + 1);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = in.mac;
    arp->arp_data.arp_sip = in.ipv4;
    arp->arp_data.arp_tha = rte_ether_addr{};
    arp->arp_data.arp_tip = ipv4;
    m->port = in.port_id;
    tx_enqueue(w, kInnerSide, m);
}

void request_neighbor6(Worker &w, rte_mbuf *m, const uint8_t target[16], uint64_t now) {
    counter_add(w.counters.drops[unsigned(DropReason::neighbor_unknown)], 1);
    const PortInfo &in = w.inner;
    static constexpr uint8_t kZero[16] = {};
    uint32_t key;
    std::memcpy(&key, target + 12, 4);
    if (std::memcmp(in.ipv6, kZero, 16) == 0 || !neighbor_request_due(w, key ^ 0x6, now)) {
        free_later(w, m);
        return;
    }
    constexpr uint16_t kNsLen = kNdFixedLen + 8;
    rte_pktmbuf_reset(m);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(
        rte_pktmbuf_append(m, uint16_t(kEthLen + sizeof(rte_ipv6_hdr) + kNsLen)));
    if (eth == nullptr) {
        free_later(w, m);
        return;
    }
    // Solicited-node multicast: ff02::1:ffXX:XXXX from the target's last 24 bits, and its MAC
    // 33:33:ff:XX:XX:XX.
    eth->dst_addr = rte_ether_addr{{0x33, 0x33, 0xff, target[13], target[14], target[15]}};
    eth->src_addr = in.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    auto *ip = reinterpret_cast<rte_ipv6_hdr *>(eth + 1);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(kNsLen);
    ip->proto = 58;
    ip->hop_limits = kNdHopLimit;
    std::memcpy(ip->src_addr, in.ipv6, 16);
    const uint8_t solicited[16] = {0xff, 2, 0, 0, 0,    0,          0,          0,
                                   0,    0, 0, 1, 0xff, target[13], target[14], target[15]};
    std::memcpy(ip->dst_addr, solicited, 16);
    auto *icmp = reinterpret_cast<uint8_t *>(ip + 1);
    std::memset(icmp, 0, kNsLen);
    icmp[0] = kNdSolicit;
    std::memcpy(icmp + 8, target, 16);
    icmp[24] = kNdOptSourceLl;
    icmp[25] = 1;
    std::memcpy(icmp + 26, in.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    const uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);
    std::memcpy(icmp + 2, &ck, 2);
    m->port = in.port_id;
    tx_enqueue(w, kInnerSide, m);
}

}  // namespace jg::dp
