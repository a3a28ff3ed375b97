// DpdkDataplaneLink: DataplaneLink over lib/dataplane's Tables writer API and the per-worker
// down rings (frames in mbufs from the gateway's packet pool). Control core only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "control/dataplane_link.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"

struct rte_mempool;
struct rte_ring;

namespace jg::control {

class DpdkDataplaneLink final : public DataplaneLink {
  public:
    // `down[w]`: the control core -> worker w ring (single producer: this object).
    // `pool`: mbufs with PacketMeta room (dp::kMbufPrivSize). `outer_port_id`: where frames leave.
    DpdkDataplaneLink(dp::Tables &tables, std::span<rte_ring *const> down, rte_mempool *pool,
                      uint16_t outer_port_id);

    Result<uint32_t> alloc_session(uint64_t session_id, uint16_t owner) override;
    Status install_keypair(uint32_t slot, KeypairRole role, const proto::TransportKeypair &keys,
                           uint32_t key_epoch, int64_t created_ms) override;
    Status confirm_next_keypair(uint32_t slot) override;
    Status retire_keypair(uint32_t slot, uint32_t local_index) override;
    Status publish_binding(uint32_t slot, const TransportAddr &to,
                           const MacAddr &next_hop) override;
    Status add_route(const IpPrefix &prefix, uint32_t slot) override;
    Status set_session_flags(uint32_t slot, uint8_t flags) override;
    Status rearm_source_report(uint32_t slot) override;
    Status retire_session(uint32_t slot) override;
    void reclaim() override;
    Status learn_neighbor(const TransportAddr &ip, const MacAddr &mac) override;
    SlotCounters counters(uint32_t slot) const override;
    void prefetch_counters(uint32_t slot) const override;
    bool send_raw(uint16_t worker, const TransportAddr &to, const MacAddr &next_hop,
                  std::span<const uint8_t> payload) override;
    bool send_control(uint16_t worker, uint32_t slot, const TransportAddr &to,
                      const MacAddr &next_hop, std::span<const uint8_t> plaintext) override;

  private:
    bool send_down(uint16_t worker, dp::MetaKind kind, uint32_t slot, const TransportAddr &to,
                   const MacAddr &next_hop, std::span<const uint8_t> bytes);

    dp::Tables &tables_;
    std::vector<rte_ring *> down_;
    rte_mempool *pool_;
    uint16_t outer_port_id_;
};

}  // namespace jg::control
