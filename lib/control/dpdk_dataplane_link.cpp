#include "control/dpdk_dataplane_link.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <sodium.h>

#include <cstring>

#include "dataplane/packet_meta.hpp"

namespace jg::control {

static_assert(kFlagLive == dp::kSessionLive && kFlagExtensions == dp::kSessionExtensions,
              "DataplaneLink spells the session flags as lib/dataplane does");

namespace {

rte_ether_addr ether(const MacAddr &mac) {
    rte_ether_addr out;
    std::memcpy(out.addr_bytes, mac.data(), RTE_ETHER_ADDR_LEN);
    return out;
}

uint64_t relaxed(const dp::Counter &c) {
    return c.load(std::memory_order_relaxed);
}

}  // namespace

DpdkDataplaneLink::DpdkDataplaneLink(dp::Tables &tables, std::span<rte_ring *const> down,
                                     rte_mempool *pool, uint16_t outer_port_id)
    : tables_(tables),
      down_(down.begin(), down.end()),
      pool_(pool),
      outer_port_id_(outer_port_id) {}

Result<uint32_t> DpdkDataplaneLink::alloc_session(uint64_t session_id, uint16_t owner) {
    return dp::alloc_session(tables_, session_id, owner);
}

Status DpdkDataplaneLink::install_keypair(uint32_t slot, KeypairRole role,
                                          const proto::TransportKeypair &keys, uint32_t key_epoch,
                                          int64_t created_ms) {
    dp::KeypairInit init;
    init.send_key = keys.send_key;
    init.recv_key = keys.recv_key;
    init.local_index = keys.local_index;
    init.remote_index = keys.remote_index;
    init.key_epoch = key_epoch;
    init.created_ms = created_ms;
    init.is_initiator = keys.is_initiator;
    const Status st = dp::install_keypair(
        tables_, slot, init,
        role == KeypairRole::Current ? dp::KeypairRole::Current : dp::KeypairRole::Next);
    sodium_memzero(init.send_key.data(), init.send_key.size());
    sodium_memzero(init.recv_key.data(), init.recv_key.size());
    return st;
}

Status DpdkDataplaneLink::confirm_next_keypair(uint32_t slot) {
    return dp::confirm_next_keypair(tables_, slot);
}

Status DpdkDataplaneLink::retire_keypair(uint32_t slot, uint32_t local_index) {
    return dp::retire_keypair_by_index(tables_, slot, local_index);
}

Status DpdkDataplaneLink::publish_binding(uint32_t slot, const TransportAddr &to,
                                          const MacAddr &next_hop) {
    dp::Binding b{};
    b.family = to.family;
    std::memcpy(b.addr, to.addr.data(), sizeof b.addr);
    b.port = to.port;
    b.l2_dst = ether(next_hop);
    return dp::publish_binding(tables_, slot, b);
}

Status DpdkDataplaneLink::add_route(const IpPrefix &prefix, uint32_t slot) {
    return dp::add_route(tables_, prefix.family, prefix.addr.data(), prefix.length, slot);
}

Status DpdkDataplaneLink::set_session_flags(uint32_t slot, uint8_t flags) {
    return dp::set_session_flags(tables_, slot, flags);
}

Status DpdkDataplaneLink::rearm_source_report(uint32_t slot) {
    return dp::rearm_source_report(tables_, slot);
}

Status DpdkDataplaneLink::retire_session(uint32_t slot) {
    return dp::retire_session(tables_, slot);
}

void DpdkDataplaneLink::reclaim() {
    dp::reclaim(tables_);
}

Status DpdkDataplaneLink::learn_neighbor(const TransportAddr &ip, const MacAddr &mac) {
    if (ip.family == 4) {
        uint32_t v4;  // network order, as the table keys it
        std::memcpy(&v4, ip.addr.data(), sizeof v4);
        return dp::learn_neighbor(tables_, v4, ether(mac));
    }
    if (ip.family == 6)
        return dp::learn_neighbor6(tables_, ip.addr.data(), ether(mac));
    return make_error("neighbor", "address family " + std::to_string(ip.family));
}

SlotCounters DpdkDataplaneLink::counters(uint32_t slot) const {
    SlotCounters c;
    if (slot >= tables_.max_sessions)
        return c;
    const dp::SessionEntry &se = tables_.sessions[slot];
    c.rx_packets = relaxed(se.rx_packets);
    c.rx_bytes = relaxed(se.rx_bytes);
    c.tx_packets = relaxed(se.tx_packets);
    c.tx_bytes = relaxed(se.tx_bytes);
    c.counter_gaps = relaxed(se.counter_gaps);
    c.replay_drops = relaxed(se.replay_drops);
    c.auth_failures = relaxed(se.auth_failures);
    // Workers stamp the TSC, which is synchronised across cores on the CPUs DPDK runs on.
    if (const uint64_t last = relaxed(se.last_rx_tsc); last != 0) {
        const uint64_t now = rte_rdtsc();
        c.rx_age_ms = now > last ? int64_t((now - last) / (rte_get_tsc_hz() / 1000)) : 0;
    }
    return c;
}

void DpdkDataplaneLink::prefetch_counters(uint32_t slot) const {
    if (slot < tables_.max_sessions)
        rte_prefetch0(&tables_.sessions[slot].rx_packets);
}

bool DpdkDataplaneLink::send_down(uint16_t worker, dp::MetaKind kind, uint32_t slot,
                                  const TransportAddr &to, const MacAddr &next_hop,
                                  std::span<const uint8_t> bytes) {
    if (worker >= down_.size() || down_[worker] == nullptr || !to.valid())
        return false;
    rte_mbuf *m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr)
        return false;
    auto *data = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, uint16_t(bytes.size())));
    if (data == nullptr) {
        rte_pktmbuf_free(m);
        return false;
    }
    if (!bytes.empty())  // a keepalive's plaintext is empty, and its span may hold no pointer
        std::memcpy(data, bytes.data(), bytes.size());
    dp::PacketMeta *meta = dp::packet_meta(m);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = kind;
    meta->family = to.family;
    meta->worker = worker;
    meta->port_id = outer_port_id_;
    meta->src_port = to.port;
    std::memcpy(meta->src_addr, to.addr.data(), sizeof meta->src_addr);
    meta->src_mac = ether(next_hop);
    meta->session_slot = slot;
    m->port = outer_port_id_;
    if (rte_ring_sp_enqueue(down_[worker], m) != 0) {
        rte_pktmbuf_free(m);
        return false;
    }
    return true;
}

bool DpdkDataplaneLink::send_raw(uint16_t worker, const TransportAddr &to, const MacAddr &next_hop,
                                 std::span<const uint8_t> payload) {
    return send_down(worker, dp::MetaKind::SendRaw, dp::kNoSession, to, next_hop, payload);
}

bool DpdkDataplaneLink::send_control(uint16_t worker, uint32_t slot, const TransportAddr &to,
                                     const MacAddr &next_hop, std::span<const uint8_t> plaintext) {
    return send_down(worker, dp::MetaKind::SendControl, slot, to, next_hop, plaintext);
}

}  // namespace jg::control
