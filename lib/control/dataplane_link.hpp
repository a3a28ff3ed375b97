// DataplaneLink: what the control core's logic asks of the data plane (table writes, frames
// down to the workers, session counters), with no DPDK type in sight. Control core only.
#pragma once

// The DPDK implementation (DpdkDataplaneLink) writes lib/dataplane's Tables and down rings;
// the unit tests record the calls. Keeping the logic behind this seam is what lets the
// handshake and session lifecycle run under a fake clock without an EAL.

#include <array>
#include <cstdint>
#include <span>

#include "base/result.hpp"
#include "config/ip_prefix.hpp"
#include "proto/noise.hpp"
#include "session/transport.hpp"

namespace jg::control {

using MacAddr = std::array<uint8_t, 6>;

// Which keypair slot of a session a new keypair goes to.
enum class KeypairRole : uint8_t {
    Current,  // confirmed: encrypts at once (the gateway initiated the handshake)
    Next,     // responder side: waits for the peer's first packet under it
};

// Session flags as the data plane spells them (dataplane/tables.hpp SessionFlags).
inline constexpr uint8_t kFlagLive = 1 << 0;
inline constexpr uint8_t kFlagExtensions = 1 << 1;

// A session's data-plane counters, read (relaxed) from the owner worker's fields.
struct SlotCounters {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t counter_gaps = 0;  // net: goes down when late packets fill gaps
    uint64_t replay_drops = 0;
    uint64_t auth_failures = 0;
    // Since the last authenticated packet from the binding (ms); -1: none yet, or unknown.
    int64_t rx_age_ms = -1;
};

class DataplaneLink {
  public:
    virtual ~DataplaneLink() = default;

    // A free slot for a new session, owned by worker `owner` (not yet live).
    virtual Result<uint32_t> alloc_session(uint64_t session_id, uint16_t owner) = 0;
    // `created_ms`: the control clock when the handshake completed.
    virtual Status install_keypair(uint32_t slot, KeypairRole role,
                                   const proto::TransportKeypair &keys, uint32_t key_epoch,
                                   int64_t created_ms) = 0;
    // next -> current, current -> previous; the old previous dies after a grace period.
    virtual Status confirm_next_keypair(uint32_t slot) = 0;
    // The keypair with receiver index `local_index` reached REJECT_AFTER_TIME: it stops
    // sealing and opening, and its index position is free for the index allocator.
    virtual Status retire_keypair(uint32_t slot, uint32_t local_index) = 0;
    // Outer packets of the session go to `to` via `next_hop` from now on.
    virtual Status publish_binding(uint32_t slot, const TransportAddr &to,
                                   const MacAddr &next_hop) = 0;
    virtual Status add_route(const IpPrefix &prefix, uint32_t slot) = 0;
    virtual Status set_session_flags(uint32_t slot, uint8_t flags) = 0;
    // The owner worker reports a source other than the binding once per new address; this
    // makes it report the next packet from one again (a switch it reported was refused then,
    // and the gate allows one now).
    virtual Status rearm_source_report(uint32_t slot) = 0;
    // Unpublishes the session (routes, keypairs, binding, flags); the slot is reusable after
    // reclaim.
    virtual Status retire_session(uint32_t slot) = 0;
    // Frees what retired sessions and replaced keypairs left, once every worker has passed a
    // quiescent state. Cheap when there is nothing to free; called every tick.
    virtual void reclaim() = 0;
    // An inner-side neighbor (ARP / NDP): `ip`'s family and address; its port is ignored.
    virtual Status learn_neighbor(const TransportAddr &ip, const MacAddr &mac) = 0;

    virtual SlotCounters counters(uint32_t slot) const = 0;
    // A hint that counters(slot) is asked soon: a tick sweeping thousands of sessions fetches
    // the next ones' lines while it works on this one.
    virtual void prefetch_counters(uint32_t /*slot*/) const {}

    // Queues `payload` to worker `worker` to be sent as is (handshake response, cookie reply).
    // False when the down ring or the buffer pool is full (the frame is lost and counted).
    virtual bool send_raw(uint16_t worker, const TransportAddr &to, const MacAddr &next_hop,
                          std::span<const uint8_t> payload) = 0;
    // Queues a control-message plaintext (empty: a keepalive) for the session's owner to
    // encrypt under its current keypair and send to `to`.
    virtual bool send_control(uint16_t worker, uint32_t slot, const TransportAddr &to,
                              const MacAddr &next_hop, std::span<const uint8_t> plaintext) = 0;
};

}  // namespace jg::control
