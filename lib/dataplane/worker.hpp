// Worker: the per-lcore poll loop and the per-worker state it owns (its queue list, its
// counters, its pipeline wiring). Built by the control core before launch; the loop runs on
// one worker lcore.
#pragma once

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip_frag.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "dataplane/worker_counter.hpp"

struct rte_mbuf;
struct rte_ring;

namespace jg::crypto {
class IpsecMbAead;
}

namespace jg::dp {

struct Tables;

inline constexpr uint16_t kBurstSize = 32;
inline constexpr unsigned kMaxQueuesPerWorker = 16;

// Why a worker dropped a packet. One list: the enum, the names and the metric labels.
#define JG_DROP_REASONS(X)                                                                    \
    X(unclassified)           /* not ARP, IPv4 or IPv6 (or bring-up mode: no tables) */       \
    X(multi_segment)          /* chained mbuf: ports are set up for single-segment frames */  \
    X(malformed_l3)           /* IP/ARP header or length inconsistent with the frame */       \
    X(fragment)               /* outer fragment not reassembled; IPv6 extension header */     \
    X(not_for_us)             /* not our address / listen port, or (inner) not our MAC */     \
    X(local_unhandled)        /* addressed to us but not ARP, echo, NDP or WireGuard */       \
    X(arp_ignored)            /* ARP not asking for our address (outer port) */               \
    X(multicast)              /* inner multicast/broadcast: never tunnelled */                \
    X(wg_malformed)           /* UDP payload is not a well-formed WireGuard message */        \
    X(bad_mac1)               /* handshake message whose mac1 does not verify */              \
    X(handshake_rate_limited) /* response or cookie reply over its source's token bucket */   \
    X(handshake_overload)     /* worker over its handshake budget (all sources): flood */     \
    X(event_ring_full)        /* up ring to the control core full */                          \
    X(unknown_index)          /* transport receiver index not in by_index */                  \
    X(session_dead)           /* session slot not live (being retired) */                     \
    X(handoff_full)           /* owner's handoff ring full */                                 \
    X(replay_duplicate)       /* counter already accepted */                                  \
    X(replay_too_old)         /* counter below the replay window */                           \
    X(counter_exhausted)      /* counter >= REJECT_AFTER_MESSAGES */                          \
    X(auth_failed)            /* Poly1305 tag does not verify */                              \
    X(plaintext_invalid)      /* decrypted payload is not keepalive, IP or control message */ \
    X(allowed_ips_mismatch)   /* inner source not routed to the session it came from */       \
    X(neighbor_unknown)       /* inner next hop MAC not learned yet (ARP sent) */             \
    X(no_route)               /* inner destination matches no session's allowed IPs */        \
    X(no_keypair)             /* session has no current keypair */                            \
    X(no_binding)             /* session has no outer binding */                              \
    X(too_big)                /* does not fit the outer MTU, or (decap) the inner one */      \
    X(no_room)                /* mbuf headroom/tailroom too small for the headers/tag */      \
    X(seal_failed)            /* AEAD backend refused the op */                               \
    X(not_owner)              /* down-ring SendControl on a worker that does not own it */    \
    X(down_malformed)         /* down-ring mbuf with an unknown kind or bad destination */    \
    X(tx_full)                /* port TX queue did not take the mbuf */

enum class DropReason : uint8_t {
#define JG_X(r) r,
    JG_DROP_REASONS(JG_X)
#undef JG_X
};
inline constexpr unsigned kDropReasonCount = 0
#define JG_X(r) +1
    JG_DROP_REASONS(JG_X)
#undef JG_X
    ;

constexpr std::string_view drop_reason_name(DropReason r) {
    switch (r) {
#define JG_X(r)         \
    case DropReason::r: \
        return #r;
        JG_DROP_REASONS(JG_X)
#undef JG_X
    }
    return "?";
}

struct RxQueueRef {
    uint16_t port_id;
    uint16_t queue_id;
};

// written: worker; read: control core (stats, metrics)
struct alignas(RTE_CACHE_LINE_SIZE) QueueCounters {
    Counter rx_packets{0};
    Counter rx_bytes{0};
    Counter tx_packets{0};
    Counter tx_bytes{0};
};

// written: worker; read: control core
struct alignas(RTE_CACHE_LINE_SIZE) WorkerCounters {
    Counter drops[kDropReasonCount]{};
    Counter loops{0};
    Counter busy_cycles{0};    // TSC cycles spent in iterations that received packets
    Counter total_cycles{0};   // TSC cycles since the loop started
    Counter keepalives{0};     // authenticated empty transport packets (consumed, not dropped)
    Counter handoffs{0};       // packets passed to another worker's handoff ring
    Counter events_up{0};      // mbufs enqueued on the up ring
    Counter local_replies{0};  // ARP replies, echo replies, neighbor advertisements sent
    Counter decrypted{0};      // transport packets authenticated
    Counter encrypted{0};      // transport packets sealed and queued for TX
    Counter reassembled{0};    // outer datagrams reassembled from fragments
};

// The worker's part of the core/queue map: data, printed at start-up, fixed while running.
struct WorkerConfig {
    unsigned lcore = 0;
    uint16_t n_queues = 0;
    RxQueueRef queues[kMaxQueuesPerWorker]{};
    // 0 = pure poll mode. >0 sleeps this long after an empty pass over all queues, for
    // hosts where the worker shares a core (development machines, CI).
    uint32_t idle_sleep_us = 0;
};

// One of the gateway's two ports as a worker sees it: data, fixed while running.
struct PortInfo {
    uint16_t port_id = UINT16_MAX;  // UINT16_MAX = not configured
    rte_ether_addr mac{};           // ours on this port
    uint32_t ipv4 = 0;              // ours, network order; 0 = none
    uint8_t ipv6[16]{};             // ours; all zero = none
    uint16_t mtu = 1500;            // bytes, L3
    // Inner port only: where decrypted packets go. Destinations inside subnet4 are looked
    // up in neighbors4 directly, others through next_hop4 (0 = none: dropped as no neighbor).
    uint32_t subnet4 = 0;       // network order
    uint32_t subnet4_mask = 0;  // network order
    uint32_t next_hop4 = 0;     // network order
    // IPv6: the destination is looked up in neighbors6, then next_hop6 (all zero = none);
    // a miss sends a neighbor solicitation for next_hop6, or the destination without one.
    alignas(8) uint8_t next_hop6[16]{};  // aligned: a hash key
    uint8_t subnet6_len = 0;             // bits of ipv6 that name the inner subnet; 0 = none
};

// Per-source handshake budget (WireGuard's ratelimiter: sources keyed by IPv4 address or
// IPv6 /64). Applies to message types 1-3 before they reach the control core.
struct HandshakeRateLimit {
    uint32_t per_second = 20;  // refill rate, messages per second
    uint32_t burst = 5;        // bucket depth, messages
};

// The worker's handshake budget over all sources together, checked before mac1 (the first
// crypto a handshake costs): beyond it messages are dropped unverified, as WireGuard's kernel
// drops handshakes once its queue is full, so an initiation flood from spoofed sources cannot
// take the data plane's core. The default is far above what the control core can answer.
struct HandshakeBudget {
    uint32_t per_second = 20000;  // messages per second
    uint32_t burst = 2000;        // messages
};

inline constexpr unsigned kHandshakeBuckets = 4096;  // direct-mapped by source hash
inline constexpr unsigned kArpRecords = 64;          // ARP requests we sent, direct-mapped
inline constexpr uint16_t kTxBufferSize = 64;        // per port; flushed when full or per loop
inline constexpr uint16_t kFreeListSize = 64;        // mbufs freed together; see free_later
// ICMP errors (packet too big) a worker sends per second at most, and at once: RFC 1812 and
// RFC 4443 want them rate-limited, and a sender needs only one to lower its path MTU.
inline constexpr uint32_t kIcmpErrorsPerSecond = 1000;
inline constexpr uint32_t kIcmpErrorBurst = 50;

// The worker's private mutable state (only its lcore touches it).
struct alignas(RTE_CACHE_LINE_SIZE) WorkerLocal {
    struct TxBuffer {
        rte_mbuf *pkts[kTxBufferSize];
        uint16_t n;
    };
    struct HandshakeBucket {
        uint64_t source;  // hash of the source key; 0 = empty
        uint64_t tokens;  // TSC cycles of credit (one message costs cost_tsc)
        uint64_t last_tsc;
    };
    struct ArpRecord {
        uint32_t ipv4;  // network order
        uint64_t tsc;
    };
    TxBuffer tx[2];  // [0] outer, [1] inner
    struct FreeList {
        rte_mbuf *pkts[kFreeListSize];
        uint16_t n;
    };
    FreeList to_free;  // dropped or consumed this loop iteration; freed at its end
    HandshakeBucket buckets[kHandshakeBuckets];
    ArpRecord arp_sent[kArpRecords];
    uint64_t tsc_hz;
    uint64_t bucket_cost_tsc;  // TSC cycles per handshake message
    uint64_t bucket_max_tsc;   // bucket depth in TSC cycles
    uint64_t budget_tokens;    // HandshakeBudget credit, TSC cycles
    uint64_t budget_last_tsc;
    uint64_t budget_cost_tsc;  // TSC cycles per handshake message
    uint64_t budget_max_tsc;
    uint64_t icmp_error_tokens;  // kIcmpErrorsPerSecond credit, TSC cycles
    uint64_t icmp_error_last_tsc;
    uint16_t ipv4_id;
    uint8_t tx_counter_queue[2];  // queue_counters slot credited with TX per port
    // Fragments reassembly gave up on, freed after each burst (fragments.hpp).
    rte_ip_frag_death_row fragment_death_row;
    uint64_t fragments_expired_tsc;        // when timed-out datagrams were last given up
    uint64_t fragments_expiry_period_tsc;  // how often that is checked: 1 ms
};

struct Worker {
    WorkerConfig config;
    const std::atomic<bool> *stop = nullptr;  // written: control core; read: worker

    // Pipeline wiring, set by the control core before launch and fixed while running.
    // tables == nullptr is bring-up mode: every packet is counted and dropped unclassified.
    uint16_t index = 0;      // worker index: RCU thread id, TX queue id, SessionEntry::owner
    uint16_t n_workers = 1;  // entries in handoff
    Tables *tables = nullptr;
    rte_ring *up = nullptr;               // this worker -> control core (SP/SC)
    rte_ring *down = nullptr;             // control core -> this worker (SP/SC)
    rte_ring *const *handoff = nullptr;   // [n_workers], any worker -> worker i (MP/SC)
    crypto::IpsecMbAead *aead = nullptr;  // this worker's own instance
    PortInfo outer;
    PortInfo inner;
    uint16_t listen_port = 51820;        // UDP, host order
    std::array<uint8_t, 32> mac1_key{};  // proto::mac1_key_for(gateway public key)
    HandshakeRateLimit handshake_limit;
    HandshakeBudget handshake_budget;
    // Outer datagrams in reassembly (fragments.hpp), this worker's own; nullptr = outer
    // fragments are dropped (`fragment`).
    rte_ip_frag_tbl *fragments = nullptr;

    QueueCounters queue_counters[kMaxQueuesPerWorker];
    WorkerCounters counters;
    WorkerLocal local;
};

// lcore entry point (rte_eal_remote_launch): arg is a Worker*. Returns 0 when *stop is set,
// -EINVAL at once when the wiring is incomplete (index beyond the tables' RCU thread count,
// no up ring or AEAD). Each port needs a TX queue per worker: worker i sends on queue i.
int worker_loop(void *arg);

// Sums a worker's drops over every reason.
uint64_t total_drops(const Worker &w);

}  // namespace jg::dp
