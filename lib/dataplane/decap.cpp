// Transport data in (type 4): index lookup, owner check, replay pre-check, one AEAD open
// burst, then replay update, roaming/confirmation reports and delivery. Hot path.
#include <rte_byteorder.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <cstring>
#include <span>

#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"
#include "proto/control_messages.hpp"

namespace jg::dp {
namespace {

uint64_t source_tag(const PeerAddr &src) {
    const uint32_t h = rte_hash_crc(src.addr, src.family == 4 ? 4 : 16, src.port);
    return (uint64_t(src.port) << 32 | h) << 4 | src.family | 1;
}

bool binding_matches(const Binding *b, const PeerAddr &src) {
    if (b == nullptr || b->family != src.family || b->port != src.port)
        return false;
    // Constant lengths, so the compiler compares in registers instead of calling memcmp.
    return src.family == 4 ? std::memcmp(b->addr, src.addr, 4) == 0
                           : std::memcmp(b->addr, src.addr, 16) == 0;
}

// WireGuard roaming delivers at once and tells the peer code; we tell the control core once
// per new source, which decides whether the binding moves.
void report_source(Worker &w, rte_mempool *pool, SessionEntry &se, uint32_t slot, const Keypair &kp,
                   const DecapItem &it, uint64_t counter, uint64_t now, bool on_binding) {
    if (on_binding) {
        if (se.reported_source.load(std::memory_order_relaxed) != 0)
            counter_set(se.reported_source, 0);
        return;
    }
    const uint64_t tag = source_tag(it.src);
    if (se.reported_source.load(std::memory_order_relaxed) == tag)
        return;
    if (send_up_event(w, pool, MetaKind::SourceChanged, it.src, slot, kp.local_index, counter, now))
        counter_set(se.reported_source, tag);
}

// The last IPv4 next hop resolved in this burst: decrypted packets mostly go to one router,
// and a MAC read earlier in the same burst (one RCU period) is as current as a new lookup.
struct NeighborMemo {
    uint32_t ipv4 = 0;  // network order; 0 = empty
    void *mac_bits = nullptr;
};

// Decrypted IP packet: allowed-IPs check on its source, then out of the inner port.
void forward_inner(Worker &w, rte_mbuf *m, uint8_t *pt, uint16_t len, uint8_t family, uint32_t slot,
                   uint64_t now, NeighborMemo &memo) {
    const Tables &t = *w.tables;
    const PortInfo &in = w.inner;
    // A reassembled outer datagram, or an outer port with a larger MTU, can carry more than
    // the inner port takes; the gateway does not fragment.
    if (len > in.mtu) {
        drop(w, m, DropReason::too_big);
        return;
    }
    uint64_t mac_bits = 0;
    void *found = nullptr;
    if (family == 4) {
        uint32_t src, dst;
        std::memcpy(&src, pt + 12, 4);
        std::memcpy(&dst, pt + 16, 4);
        const uint32_t memo4 = t.sessions[slot].host4.load(std::memory_order_acquire);
        if ((src != memo4 || memo4 == 0) && route4(t, src) != slot) {
            drop(w, m, DropReason::allowed_ips_mismatch);
            return;
        }
        // Not forwarded: packets to the gateway's own inner address (nothing on the inner port
        // answers for it, and ARPing for it would ask the LAN for ourselves), to no one, or to
        // a broadcast or multicast group, which a tunnel never fans out.
        if (dst == in.ipv4 || dst == 0) {
            drop(w, m, DropReason::local_unhandled);
            return;
        }
        if (is_group_address4(in, dst)) {
            drop(w, m, DropReason::multicast);
            return;
        }
        const bool on_link = in.subnet4_mask != 0 && (dst & in.subnet4_mask) == in.subnet4;
        const uint32_t nh = on_link || in.next_hop4 == 0 ? dst : in.next_hop4;
        if (nh != 0 && nh == memo.ipv4) {
            found = memo.mac_bits;
        } else if (rte_hash_lookup_data(t.neighbors4, &nh, &found) < 0) {
            request_neighbor4(w, m, nh, now);
            return;
        } else {
            memo.ipv4 = nh;
            memo.mac_bits = found;
        }
    } else {
        if (route6(t, pt + 8) != slot) {
            drop(w, m, DropReason::allowed_ips_mismatch);
            return;
        }
        static constexpr uint8_t kZero[16] = {};
        alignas(8) uint8_t dst[16];  // rte_hash_crc reads the key in aligned words
        std::memcpy(dst, pt + 24, 16);
        // As for IPv4: not to our own inner address (a solicitation for it would ask the LAN
        // for ourselves), not to the unspecified address, not to a multicast group.
        if (std::memcmp(dst, kZero, 16) == 0 || std::memcmp(dst, in.ipv6, 16) == 0) {
            drop(w, m, DropReason::local_unhandled);
            return;
        }
        if (dst[0] == 0xff) {
            drop(w, m, DropReason::multicast);
            return;
        }
        const bool via_router = std::memcmp(in.next_hop6, kZero, 16) != 0;
        if (rte_hash_lookup_data(t.neighbors6, dst, &found) < 0 &&
            (!via_router || rte_hash_lookup_data(t.neighbors6, in.next_hop6, &found) < 0)) {
            uint8_t target[16];
            std::memcpy(target, via_router ? in.next_hop6 : dst, 16);
            request_neighbor6(w, m, target, now);
            return;
        }
    }
    mac_bits = reinterpret_cast<uintptr_t>(found);
    rte_pktmbuf_adj(m, uint16_t(pt - rte_pktmbuf_mtod(m, uint8_t *)));
    trim_segment(m, uint16_t(rte_pktmbuf_data_len(m) - len));
    auto *eth = reinterpret_cast<rte_ether_hdr *>(rte_pktmbuf_prepend(m, kEthLen));
    std::memcpy(eth->dst_addr.addr_bytes, &mac_bits, RTE_ETHER_ADDR_LEN);
    eth->src_addr = in.mac;
    eth->ether_type = rte_cpu_to_be_16(family == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
    m->port = in.port_id;
    tx_enqueue(w, kInnerSide, m);
}

// Decrypted control message: up to the control core with what authenticated it.
void control_up(Worker &w, rte_mbuf *m, uint8_t *pt, uint16_t len, const DecapItem &it,
                uint32_t slot, const Keypair &kp, uint64_t counter, uint64_t now) {
    rte_pktmbuf_adj(m, uint16_t(pt - rte_pktmbuf_mtod(m, uint8_t *)));
    trim_segment(m, uint16_t(rte_pktmbuf_data_len(m) - len));
    PacketMeta *meta = packet_meta(m);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = MetaKind::ControlMessage;
    meta->family = it.src.family;
    meta->worker = w.index;
    meta->port_id = m->port;
    meta->src_port = it.src.port;
    std::memcpy(meta->src_addr, it.src.addr, sizeof(meta->src_addr));
    meta->src_mac = it.src.mac;
    meta->session_slot = slot;
    meta->local_index = kp.local_index;
    meta->counter = counter;
    meta->rx_tsc = now;
    send_up(w, m);
}

}  // namespace

void decap_burst(Worker &w, DecapItem *items, uint16_t n, uint64_t now) {
    if (n == 0)
        return;
    Tables &t = *w.tables;
    // One dependency level at a time, so that with many sessions the misses overlap: the
    // index positions, then the keypairs they name, then the sessions those belong to.
    uint32_t index[kBurstSize];
    for (uint16_t i = 0; i < n; ++i) {
        index[i] = proto::load_le32(items[i].msg + proto::transport_off::receiver);
        rte_prefetch0(index_entry(t, index[i]));
    }
    Keypair *kp[kBurstSize];
    for (uint16_t i = 0; i < n; ++i) {
        kp[i] = index_entry(t, index[i])->load(std::memory_order_acquire);
        if (kp[i] != nullptr)
            prefetch_keypair_receive(
                kp[i], proto::load_le64(items[i].msg + proto::transport_off::counter));
    }
    for (uint16_t i = 0; i < n; ++i) {
        if (kp[i] == nullptr)
            continue;
        if (kp[i]->local_index != index[i]) {
            kp[i] = nullptr;  // the position holds another index's keypair
            continue;
        }
        rte_prefetch0(&t.sessions[kp[i]->session_slot]);
    }

    crypto::AeadOp ops[kBurstSize];
    uint16_t item_of[kBurstSize];
    uint16_t n_ops = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf *m = items[i].m;
        if (kp[i] == nullptr) {
            drop(w, m, DropReason::unknown_index);
            continue;
        }
        SessionEntry &se = t.sessions[kp[i]->session_slot];
        if (!(se.flags.load(std::memory_order_acquire) & kSessionLive)) {
            drop(w, m, DropReason::session_dead);
            continue;
        }
        const uint16_t owner = se.owner.load(std::memory_order_relaxed);
        if (owner != w.index) {
            hand_off(w, owner, m);
            continue;
        }
        // Compared with the packet's source after the AEAD: fetch it meanwhile, and the
        // session's counter line, which every authenticated packet writes.
        rte_prefetch0(se.binding.load(std::memory_order_relaxed));
        rte_prefetch0(&se.rx_packets);
        const uint64_t counter = proto::load_le64(items[i].msg + proto::transport_off::counter);
        switch (kp[i]->replay.check(counter)) {
            case proto::ReplayVerdict::fresh:
                break;
            case proto::ReplayVerdict::duplicate:
                counter_add(se.replay_drops, 1);
                drop(w, m, DropReason::replay_duplicate);
                continue;
            case proto::ReplayVerdict::too_old:
                counter_add(se.replay_drops, 1);
                drop(w, m, DropReason::replay_too_old);
                continue;
            case proto::ReplayVerdict::exhausted:
                drop(w, m, DropReason::counter_exhausted);
                continue;
        }
        ops[n_ops] = crypto::AeadOp{items[i].msg + proto::transport_off::content,
                                    uint32_t(items[i].len - proto::kTransportMinSize),
                                    kp[i]->recv_key, counter, 0};
        item_of[n_ops++] = i;
    }
    if (n_ops == 0)
        return;
    w.aead->open_burst(ops, n_ops);
    NeighborMemo memo;

    for (uint16_t j = 0; j < n_ops; ++j) {
        const uint16_t i = item_of[j];
        DecapItem &it = items[i];
        Keypair &k = *kp[i];
        const uint32_t slot = k.session_slot;
        SessionEntry &se = t.sessions[slot];
        if (!ops[j].ok) {
            counter_add(se.auth_failures, 1);
            drop(w, it.m, DropReason::auth_failed);
            continue;
        }
        const bool had_any = k.replay.any;
        const uint64_t greatest = k.replay.greatest;
        const uint64_t counter = ops[j].counter;
        // Another packet of this burst may have taken the counter, or moved the window
        // past it, since the pre-check.
        const proto::ReplayVerdict verdict = k.replay.update(counter);
        if (verdict != proto::ReplayVerdict::fresh) {
            counter_add(se.replay_drops, 1);
            drop(w, it.m,
                 verdict == proto::ReplayVerdict::too_old ? DropReason::replay_too_old
                                                          : DropReason::replay_duplicate);
            continue;
        }
        // Net gaps: a packet below the window's greatest arrived late and fills a gap that
        // was counted when the window passed it, so reordering alone never reads as loss.
        const uint64_t expected = had_any ? greatest + 1 : 0;
        if (counter > expected)
            counter_add(se.counter_gaps, counter - expected);
        else if (counter < expected)
            counter_add(se.counter_gaps, uint64_t{0} - 1);
        counter_add(k.recv_packets, 1);
        counter_set(k.recv_greatest, k.replay.greatest);
        counter_add(se.rx_packets, 1);
        counter_add(se.rx_bytes, it.len);
        counter_add(w.counters.decrypted, 1);

        rte_mempool *pool = it.m->pool;
        const bool on_binding = binding_matches(se.binding.load(std::memory_order_acquire), it.src);
        if (on_binding)
            counter_set(se.last_rx_tsc, now);
        if (!k.confirm_reported && se.next.load(std::memory_order_acquire) == &k &&
            send_up_event(w, pool, MetaKind::KeypairConfirmed, it.src, slot, k.local_index, counter,
                          now))
            k.confirm_reported = true;
        report_source(w, pool, se, slot, k, it, counter, now, on_binding);

        uint8_t *pt = ops[j].data;
        const proto::PlaintextClass c =
            proto::classify_plaintext(std::span<const uint8_t>(pt, ops[j].len));
        switch (c.kind) {
            case proto::PlaintextKind::keepalive:
                counter_add(w.counters.keepalives, 1);
                free_later(w, it.m);
                break;
            case proto::PlaintextKind::ipv4:
                forward_inner(w, it.m, pt, c.length, 4, slot, now, memo);
                break;
            case proto::PlaintextKind::ipv6:
                forward_inner(w, it.m, pt, c.length, 6, slot, now, memo);
                break;
            case proto::PlaintextKind::control:
                control_up(w, it.m, pt, c.length, it, slot, k, counter, now);
                break;
            case proto::PlaintextKind::invalid:
                drop(w, it.m, DropReason::plaintext_invalid);
                break;
        }
    }
}

}  // namespace jg::dp
