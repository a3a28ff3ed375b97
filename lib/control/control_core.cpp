#include "control/control_core.hpp"

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <bit>
#include <cstring>
#include <optional>

#include "dataplane/packet_meta.hpp"

namespace jg::control {
namespace {

std::optional<UpKind> up_kind(dp::MetaKind k) {
    switch (k) {
        case dp::MetaKind::HandshakeInitiation:
            return UpKind::HandshakeInitiation;
        case dp::MetaKind::HandshakeResponse:
            return UpKind::HandshakeResponse;
        case dp::MetaKind::CookieReply:
            return UpKind::CookieReply;
        case dp::MetaKind::ControlMessage:
            return UpKind::ControlMessage;
        case dp::MetaKind::SourceChanged:
            return UpKind::SourceChanged;
        case dp::MetaKind::KeypairConfirmed:
            return UpKind::KeypairConfirmed;
        case dp::MetaKind::NeighborLearned:
            return UpKind::NeighborLearned;
        case dp::MetaKind::SendRaw:
        case dp::MetaKind::SendControl:
            break;
    }
    return std::nullopt;
}

}  // namespace

ControlCore::ControlCore(dp::Tables &tables, const ControlRings &rings)
    : link_(tables, rings.down, rings.pool, rings.outer_port_id),
      up_(rings.up.begin(), rings.up.end()) {}

Result<std::unique_ptr<ControlCore>> ControlCore::create(const GatewayConfig &config,
                                                         const SecretKey &private_key,
                                                         dp::Tables &tables,
                                                         const ControlRings &rings,
                                                         AuditWriter &audit) {
    if (rings.up.size() != rings.down.size() || rings.up.empty())
        return make_error("control core", "one up and one down ring per worker are needed");
    if (rings.pool == nullptr)
        return make_error("control core", "no mbuf pool for frames sent down");
    auto identity = proto::StaticIdentity::from_private_key(private_key.bytes());
    if (!identity)
        return identity.error();
    auto peers = SessionDirectory::peers_from_config(config);
    if (!peers)
        return peers.error();
    auto core = std::make_unique<ControlCore>(tables, rings);
    DirectoryOptions options;
    options.max_sessions = std::min(config.limits.max_sessions, tables.max_sessions);
    options.handshake_rate_per_sec = config.limits.handshake_rate_per_sec;
    options.index_position_bits = unsigned(std::bit_width(tables.index_mask));
    core->directory_ =
        std::make_unique<SessionDirectory>(std::move(identity).value(), std::move(peers).value(),
                                           config.policies, options, core->link_, audit);
    return core;
}

unsigned ControlCore::poll(int64_t now_ms) {
    unsigned handled = 0;
    rte_mbuf *pkts[kUpBurstPerRing];
    for (rte_ring *ring : up_) {
        if (ring == nullptr)
            continue;
        const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void **>(pkts),
                                                     kUpBurstPerRing, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf *m = pkts[i];
            const dp::PacketMeta &meta = *dp::packet_meta(m);
            const auto kind = up_kind(meta.kind);
            if (!kind || m->nb_segs != 1 || (meta.family != 4 && meta.family != 6)) {
                ++malformed_events_;
                rte_pktmbuf_free(m);
                continue;
            }
            UpEvent ev;
            ev.kind = *kind;
            ev.worker = meta.worker;
            ev.src.family = meta.family;
            std::memcpy(ev.src.addr.data(), meta.src_addr, ev.src.addr.size());
            ev.src.port = meta.src_port;
            std::memcpy(ev.src_mac.data(), meta.src_mac.addr_bytes, ev.src_mac.size());
            ev.over_source_rate = (meta.flags & dp::kMetaOverSourceRate) != 0;
            ev.session_slot = meta.session_slot;
            ev.local_index = meta.local_index;
            ev.counter = meta.counter;
            ev.payload = std::span<const uint8_t>(rte_pktmbuf_mtod(m, const uint8_t *),
                                                  rte_pktmbuf_data_len(m));
            directory_->handle(ev, now_ms);
            rte_pktmbuf_free(m);
            ++handled;
        }
    }
    return handled;
}

void ControlCore::tick(int64_t now_ms, int64_t system_offset_ms) {
    directory_->set_system_clock_offset(system_offset_ms);
    directory_->tick(now_ms);
}

}  // namespace jg::control
