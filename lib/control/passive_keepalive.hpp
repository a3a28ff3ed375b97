// PassiveKeepalive: WireGuard's passive keepalive timer for one session, driven by the session's
// data-plane counter deltas at each control tick (time injected). Control core only; no DPDK.
#pragma once

// The rule (wireguard-go device/timers.go, the Linux module's timers.c): authenticated data
// received from a peer arms a KEEPALIVE_TIMEOUT timer unless it is already armed; any
// authenticated packet sent to the peer disarms it; when it fires, an empty transport-data
// packet goes out. The peer's own timer re-handshakes after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT
// of sending data without hearing back, so a gateway that stays silent after a one-way burst
// would cost every idle stock client a needless handshake. A received keepalive is not data:
// arming on it would make two idle peers answer each other's keepalives forever.

#include <cstdint>

#include "proto/messages.hpp"
#include "session/session_record.hpp"

namespace jg::control {

// KEEPALIVE_TIMEOUT (PROTOCOL.md), in ms.
inline constexpr int64_t kKeepaliveTimeoutMs =
    static_cast<int64_t>(proto::kKeepaliveTimeoutNs / proto::kNsPerMs);

// What the owner worker counted for the session since the previous sample.
struct TrafficDelta {
    uint64_t rx_packets = 0;  // authenticated transport-data packets, keepalives included
    uint64_t rx_bytes = 0;    // their whole type-4 messages (header + ciphertext + tag), bytes
    uint64_t tx_packets = 0;  // sealed transport-data packets sent, keepalives included
};

// True when at least one of the received packets carried a non-empty plaintext. The workers
// count keepalives per worker, not per session, but sizes tell them apart: a keepalive is
// exactly kTransportMinSize bytes and anything else is padded to at least 16 more.
constexpr bool received_data(const TrafficDelta &d) {
    return d.rx_bytes > d.rx_packets * proto::kTransportMinSize;
}

struct PassiveKeepalive {
    int64_t due_ms = kNever;  // when the armed timer fires; kNever: disarmed
};

struct KeepaliveStep {
    PassiveKeepalive next;
    bool send = false;  // queue one keepalive now
};

// One tick. `d`: the counters' growth since the previous tick; `now_ms`: the control clock;
// `timeout_ms`: KEEPALIVE_TIMEOUT (a parameter so tests need not wait 10 s).
// Within one tick the order of what was sent and what was received is unknown; the step takes
// the order that arms the timer, because a spare keepalive costs 32 bytes and a missing one
// costs the peer a handshake.
KeepaliveStep keepalive_step(PassiveKeepalive timer, const TrafficDelta &d, int64_t now_ms,
                             int64_t timeout_ms = kKeepaliveTimeoutMs);

}  // namespace jg::control
