// PacketMeta: what travels with an mbuf on the rings between workers and the control core
// (in the mbuf's private area). Written by whoever enqueues, read by whoever dequeues.
#pragma once

// Rings (all rte_ring of rte_mbuf*, created by the gateway before launch):
// - up[w]      worker w -> control core, single producer / single consumer. Handshake
//              messages (types 1-3, mac1 already verified by the worker), decrypted Jumping
//              control messages, roaming reports, ARP learnings. A full ring drops the mbuf
//              and counts DropReason::event_ring_full: handshakes are retried by peers.
// - down[w]    control core -> worker w, single producer / single consumer. Frames the
//              control core wants sent: handshake responses and cookie replies (raw UDP
//              payloads) and control messages to be encrypted for a session by its owner.
// - handoff[w] any worker -> worker w, multi producer / single consumer. Packets of a
//              session that arrived on a worker that does not own it.

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace jg::dp {

enum class MetaKind : uint8_t {
    // up: the mbuf data is the UDP payload (WireGuard message), headers stripped.
    HandshakeInitiation,
    HandshakeResponse,
    CookieReply,
    // up: the mbuf data is a decrypted Jumping control message (byte 0 = 0x01..0x0F).
    ControlMessage,
    // up: an authenticated transport packet of `session_slot` came from `src`, which is not
    // the session's binding. No payload. Reported once per new source.
    SourceChanged,
    // up: the first authenticated packet under a keypair that was `next`: the responder's
    // new keypair is confirmed and must become `current`. No payload.
    KeypairConfirmed,
    // up: an ARP packet on port `port_id` taught `src` (IPv4 addr) is at `src_mac`.
    NeighborLearned,
    // down: send the mbuf data as a UDP payload, unencrypted, to `src` via `src_mac`
    // (handshake response, cookie reply). Field names are reused: `src` = destination.
    SendRaw,
    // down: encrypt the mbuf data (a control message plaintext) under session
    // `session_slot`'s current keypair and send it to `src` (the binding, or a candidate
    // address for PATH_CHALLENGE) via `src_mac`.
    SendControl,
};

// An initiation from a source above its per-source handshake rate: the control core answers
// it only if its mac2 proves the source owns its address (a cookie), else with a cookie.
inline constexpr uint8_t kMetaOverSourceRate = 1;

struct PacketMeta {
    MetaKind kind;
    uint8_t family;          // of src: 4 or 6
    uint16_t worker;         // worker index that received (up) or must send (down)
    uint16_t port_id;        // DPDK port the packet arrived on / leaves by
    uint16_t src_port;       // UDP port, host order (down: destination port)
    uint8_t src_addr[16];    // network order (down: destination address)
    rte_ether_addr src_mac;  // sender's MAC (down: next hop MAC)
    uint8_t flags;           // kMetaOverSourceRate (HandshakeInitiation)
    uint32_t session_slot;   // ControlMessage, SourceChanged, KeypairConfirmed, SendControl
    uint32_t local_index;    // keypair the packet was authenticated with
    uint64_t counter;        // transport counter of the packet (ControlMessage)
    uint64_t rx_tsc;         // when the worker received it
};

// Bytes of private area every packet mbuf pool must have (rte_pktmbuf_pool_create priv_size).
// Rounded up to a whole cache line, not just RTE_MBUF_PRIV_ALIGN: the data buffer follows the
// private area, so any other size starts every frame part-way into a line and its Ethernet,
// IP, UDP and WireGuard headers straddle two lines, of which the worker prefetches one (and
// a NIC writing a partial line pays a read-modify-write).
inline constexpr uint16_t kMbufPrivSize = RTE_ALIGN_CEIL(sizeof(PacketMeta), RTE_CACHE_LINE_SIZE);
static_assert((sizeof(rte_mbuf) + kMbufPrivSize + RTE_PKTMBUF_HEADROOM) % RTE_CACHE_LINE_SIZE == 0,
              "a frame must start on a cache line");

static_assert(sizeof(PacketMeta) <= 64, "the private area is one cache line");

inline PacketMeta *packet_meta(rte_mbuf *m) {
    return static_cast<PacketMeta *>(rte_mbuf_to_priv(m));
}

}  // namespace jg::dp
