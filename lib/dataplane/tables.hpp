// Tables: the data structures shared by the control core (single writer) and the workers
// (lock-free readers): session slots, keypairs by receiver index, inner routes, bindings.
#pragma once

// Ownership and publication rules (every shared field says who writes and who reads):
// - The control core is the only writer of every table and of every field marked
//   "written: control core". Workers never block on it.
// - Keypair and Binding objects are immutable once published (except the fields marked
//   "written: owner worker"). The control core replaces them by storing a new pointer
//   (release) and frees the old one only after every worker reported a quiescent state
//   (rte_rcu_qsbr), so a worker that loaded the old pointer (acquire) may keep using it
//   until the end of its burst.
// - Each session has one owning worker (SessionEntry::owner). Only the owner encrypts for
//   the session (send counter) and decrypts for it (replay window); a worker that receives
//   a packet for a session it does not own hands the mbuf to the owner's handoff ring.
//   So the per-session mutable state has a single writer and needs no atomics beyond
//   relaxed single-writer counters that the control core reads.

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_prefetch.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "dataplane/host_table4.hpp"
#include "dataplane/worker_counter.hpp"
#include "proto/replay_window.hpp"

struct rte_fib;
struct rte_hash;
struct rte_lpm6;
struct rte_rcu_qsbr;
struct rte_ring;

namespace jg::dp {

inline constexpr uint32_t kNoSession = UINT32_MAX;
inline constexpr unsigned kMaxWorkers = 16;
// Session slots: rte_lpm6 next hops (session slots) are 21 bits.
inline constexpr uint32_t kMaxSessions = uint32_t(1) << 21;

// Where a session's outer packets go. Immutable once published.
struct Binding {
    uint8_t family;         // 4 or 6
    uint8_t addr[16];       // network order; IPv4 in the first 4 bytes
    uint16_t port;          // UDP port, host order
    rte_ether_addr l2_dst;  // next hop on the outer port (learned from the packet's source)
};

// One WireGuard transport keypair. Keys, indices and times are immutable once published.
// Packed (8-byte aligned, 400 bytes) in its owner worker's pool rather than cache-aligned:
// neighbours in a pool belong to the same worker, so no other core writes next to it.
struct Keypair {
    uint8_t send_key[32];
    uint8_t recv_key[32];
    uint32_t local_index;   // our receiver index: its low bits are the Tables::by_index position
    uint32_t remote_index;  // the peer's: written into every packet we send
    uint32_t session_slot;  // into Tables::sessions
    uint32_t key_epoch;     // 0 for the session's first keypair, +1 per rotation
    bool is_initiator;      // the gateway initiated this handshake
    // written: owner worker only; never read elsewhere
    bool confirm_reported = false;  // KeypairConfirmed went up for this (next) keypair
    uint16_t pool = 0;              // written: control core; the worker pool it came from

    // written: owner worker; read: control core (rekey after messages, statistics)
    Counter send_counter{0};   // next counter to use
    Counter recv_packets{0};   // authenticated packets received under this keypair
    Counter recv_greatest{0};  // greatest counter accepted (mirror of replay.greatest)
    // written: owner worker only; never read elsewhere
    proto::ReplayWindow replay;
    int64_t created_ms;  // control-core clock (CLOCK_MONOTONIC ms); only the control core reads it
};
// Pools pack keypairs 400 bytes apart from cache-aligned chunks, so a keypair starts 16-byte
// aligned. With the window 16-byte aligned too, its `greatest` and `any` (its first 16 bytes,
// read for every packet) never straddle a cache line, and one prefetch covers both.
static_assert(offsetof(Keypair, replay) % 16 == 0 && offsetof(proto::ReplayWindow, any) < 16);
static_assert(sizeof(Keypair) % 16 == 0);

// A keypair starts 0, 16, 32 or 48 bytes into a cache line, so what one direction reads
// spans up to three lines: the prefetches below name one field on each, whatever the start.

// Workers: start fetching what sealing under `kp` touches (send key, remote index, send
// counter). Null is fine.
inline void prefetch_keypair_send(const Keypair *kp) {
    if (kp == nullptr)
        return;
    rte_prefetch0(kp);
    rte_prefetch0(&kp->remote_index);
    rte_prefetch0(&kp->send_counter);
}

// Workers: start fetching what opening `counter` under `kp` touches (receive key, indices,
// counters, the replay window's head and the block holding `counter`).
inline void prefetch_keypair_receive(const Keypair *kp, uint64_t counter) {
    rte_prefetch0(kp);
    rte_prefetch0(&kp->local_index);
    rte_prefetch0(&kp->recv_packets);
    rte_prefetch0(&kp->replay.greatest);
    rte_prefetch0(kp->replay.block_for(counter));
}

enum SessionFlags : uint8_t {
    kSessionLive = 1 << 0,        // in the tables; workers may use it
    kSessionExtensions = 1 << 1,  // the peer said HELLO: control messages are understood
};

// One session slot (two cache lines). Preallocated array; a slot is reused only after an
// RCU grace period.
struct alignas(RTE_CACHE_LINE_SIZE) SessionEntry {
    // written: control core; read: workers
    std::atomic<Keypair *> current{nullptr};   // encrypts; null = no keypair (queue/drop)
    std::atomic<Keypair *> previous{nullptr};  // still decrypts until it expires
    std::atomic<Keypair *> next{nullptr};      // responder side, until the peer confirms it
    std::atomic<const Binding *> binding{nullptr};
    std::atomic<uint16_t> owner{0};  // worker index (not lcore) that owns this session
    std::atomic<uint8_t> flags{0};
    uint64_t session_id = 0;  // written once before kSessionLive is set
    // written: owner worker, once per new foreign source (rare, so it may share this
    // read-mostly line), and the control core, which zeroes it to hear of the source again
    // (rearm_source_report); read: owner worker. The last foreign source the owner reported (so
    // a roaming peer is reported once per new address, not per packet): packed
    // family|port|addr hash.
    Counter reported_source{0};
    // written: control core; read: workers. One IPv4 /32 this session owns (network order;
    // 0 = none): a decrypted packet from it passes the allowed-IPs check without a lookup,
    // since no route can be longer than a /32. Cleared before the route moves or goes.
    std::atomic<uint32_t> host4{0};

    // written: owner worker; read: control core (health sampling, metrics)
    alignas(RTE_CACHE_LINE_SIZE) Counter rx_packets{0};
    Counter rx_bytes{0};
    Counter tx_packets{0};
    Counter tx_bytes{0};
    Counter last_rx_tsc{0};  // TSC of the last authenticated packet on the binding
    // Counters skipped on the receive side and not filled by a late packet since. It goes
    // down when one arrives late, so readers take differences as signed.
    Counter counter_gaps{0};
    Counter replay_drops{0};
    Counter auth_failures{0};
};
static_assert(sizeof(SessionEntry) == 2 * RTE_CACHE_LINE_SIZE);

// The control core's private bookkeeping behind the tables (free slots, each slot's routes,
// objects waiting for their grace period). Defined in tables.cpp; workers never touch it.
struct WriterLedger;

// The tables one gateway shares between its control core and its workers.
struct Tables {
    // Receiver index -> Keypair: an array indexed by the index's low bits (the control core
    // hands out indices that way, see proto::receiver_index_position_bits), so a worker finds
    // a keypair with one read instead of a hash lookup. An entry is a hit only if the
    // keypair's local_index is the whole index (keypair_by_index). Written: control core
    // (release); read: workers (acquire).
    std::atomic<Keypair *> *by_index = nullptr;
    uint32_t index_mask = 0;  // positions - 1
    // Inner IPv4 destination -> session slot; a miss yields a value >= max_sessions.
    // rte_fib (DIR24_8 over an rte_rib tree) rather than rte_lpm: rte_lpm scans its rule
    // table on every add, so a million /32 routes took hours to insert.
    // Neither rte_fib nor rte_lpm6 has an RCU hook in DPDK 22.11: a lookup racing a delete
    // sees the old or the new entry (a miss at worst); an add after a delete waits one grace
    // period so a freed tbl8 group is never reused under a reader.
    rte_fib *routes4 = nullptr;
    rte_lpm6 *routes6 = nullptr;  // inner IPv6 destination -> session slot
    // Host routes (/32, /128), the common allowed IP of a roaming client, live in exact-match
    // tables instead: a host prefix is the longest there is, so a hit there is the longest
    // match and the LPM tables are asked only on a miss. An rte_rib node pair per /32 cost
    // about 400 bytes per session, a HostTable4 entry about 19 (one line per lookup); a /128
    // in rte_lpm6 takes up to 13 tbl8 groups of 1 KiB. hosts6: rte_hash, key the 16-byte
    // address, data the slot.
    HostTable4 hosts4;
    rte_hash *hosts6 = nullptr;
    rte_hash *neighbors4 = nullptr;  // inner IPv4 next hop (u32, network order) -> MAC (u64)
    rte_hash *neighbors6 = nullptr;  // inner IPv6 next hop (16 bytes) -> MAC (u64)
    SessionEntry *sessions = nullptr;
    uint32_t max_sessions = 0;
    rte_rcu_qsbr *qsbr = nullptr;  // one thread id per worker (worker index)
    uint16_t n_workers = 0;
    WriterLedger *ledger = nullptr;  // control core only
};

// ---- Lifecycle and writer API: control core only (single writer; never call from workers) ----

struct TablesConfig {
    std::string name = "jg";        // prefix of the DPDK object names (unique per process)
    uint32_t max_sessions = 1024;   // session slots
    uint32_t max_routes4 = 4096;    // inner IPv4 prefixes shorter than /32, all sessions together
    uint32_t max_routes6 = 4096;    // inner IPv6 prefixes shorter than /128
    uint32_t max_hosts4 = 4096;     // inner IPv4 /32 routes, all sessions together
    uint32_t max_hosts6 = 4096;     // inner IPv6 /128 routes
    uint32_t lpm4_tbl8s = 256;      // routes4 tbl8 groups for prefixes longer than /24
    uint32_t lpm6_tbl8s = 1024;     // rte_lpm6 groups (1 KiB each)
    uint32_t max_neighbors = 1024;  // per family
    uint16_t n_workers = 1;         // rte_rcu_qsbr thread ids 0..n_workers-1
    int socket = -1;                // NUMA socket, -1 = SOCKET_ID_ANY
};

// A keypair as the handshake produced it; install_keypair copies it into a Keypair.
struct KeypairInit {
    std::array<uint8_t, 32> send_key{};
    std::array<uint8_t, 32> recv_key{};
    uint32_t local_index = 0;
    uint32_t remote_index = 0;
    uint32_t key_epoch = 0;
    int64_t created_ms = 0;  // control-core clock, ms
    bool is_initiator = false;
};

// Where a new keypair goes. Current: we initiated (usable at once; the old current becomes
// previous). Next: we responded (usable for receiving; becomes current when the peer's first
// transport packet under it arrives, see confirm_next_keypair), as WireGuard's noise.c does.
enum class KeypairRole : uint8_t { Current, Next };

Result<Tables> create_tables(const TablesConfig &cfg);
// Frees everything, deferred objects included. Workers must have stopped.
void destroy_tables(Tables &t);

// Takes a free slot (one whose previous tenant's grace period has ended), resets its
// counters, sets session_id and owner (worker index). The slot is not live until
// set_session_flags(kSessionLive).
Result<uint32_t> alloc_session(Tables &t, uint64_t session_id, uint16_t owner);

// Publishes a new keypair for `slot` at its local index's by_index position; fails, leaving
// everything as it was, if another keypair holds that position (the control core frees a
// position only after the keypair there retired). Keypairs pushed out of the session are
// unpublished and freed after a grace period, their keys wiped first.
Status install_keypair(Tables &t, uint32_t slot, const KeypairInit &init, KeypairRole role);
// next -> current, current -> previous (the old previous is retired). No-op without a next.
Status confirm_next_keypair(Tables &t, uint32_t slot);
// Retires whichever of the slot's keypairs (previous, current, next) has `local_index`: it
// stops sealing and opening at once and its by_index position is free. Ok if none has it.
Status retire_keypair_by_index(Tables &t, uint32_t slot, uint32_t local_index);

// Publishes a copy of `b` as the session's binding; the old one is freed after a grace period.
Status publish_binding(Tables &t, uint32_t slot, const Binding &b);

// Workers: where a keypair with receiver `index` sits; start fetching it with
// rte_prefetch0 before keypair_by_index reads it.
inline const std::atomic<Keypair *> *index_entry(const Tables &t, uint32_t index) {
    return &t.by_index[index & t.index_mask];
}
// Workers (any core): the published keypair whose local index is `index`, or null.
inline Keypair *keypair_by_index(const Tables &t, uint32_t index) {
    Keypair *kp = index_entry(t, index)->load(std::memory_order_acquire);
    return kp != nullptr && kp->local_index == index ? kp : nullptr;
}

// Inner prefix routes (allowed IPs). family 4: addr = 4 bytes network order; 6: 16 bytes.
// An add that follows a delete blocks for one grace period (see routes4).
Status add_route(Tables &t, uint8_t family, const uint8_t *addr, uint8_t prefix_len, uint32_t slot);
Status remove_route(Tables &t, uint8_t family, const uint8_t *addr, uint8_t prefix_len);
// Any core: the session slot the inner routes give `ip` (host order) in *slot; 0 on a hit,
// -ENOENT on a miss (rte_lpm_lookup's contract).
int lookup_route4(const Tables &t, uint32_t ip, uint32_t *slot);
int lookup_route6(const Tables &t, const uint8_t ip[16], uint32_t *slot);

// Addresses per route4_bulk call: it hands them to host_table4_find_bulk in one call.
inline constexpr uint16_t kRouteBulkMax = kHostFindBulkMax;
// Workers (any core): longest-prefix session slot for each of `n` (<= kRouteBulkMax) IPv4
// addresses in network order, host routes first; kNoSession where nothing matches.
void route4_bulk(const Tables &t, const uint32_t *ip_be, uint32_t *slot, uint16_t n);
// Workers: the same for one address (IPv4 network order; IPv6 16 bytes, any alignment).
uint32_t route4(const Tables &t, uint32_t ip_be);
uint32_t route6(const Tables &t, const uint8_t *ip);

// Replaces the SessionFlags bits (release: fields written before are visible to workers).
Status set_session_flags(Tables &t, uint32_t slot, uint8_t flags);

// Forgets the foreign source the owner worker last reported, so it reports the next packet
// from an address other than the binding again. Control core.
Status rearm_source_report(Tables &t, uint32_t slot);

// Unpublishes the session's routes, keypairs (and their indices) and binding, clears its
// flags; the slot becomes allocatable again after a grace period.
Status retire_session(Tables &t, uint32_t slot);

// Frees what was retired and whose grace period ended (every registered worker reported
// quiescence since). Never blocks. Returns the number of objects freed.
uint32_t reclaim(Tables &t);
// Objects retired and not yet freed.
uint32_t pending_reclaim(const Tables &t);

// Inner-port neighbors: where to send decrypted packets. ipv4 in network order.
Status learn_neighbor(Tables &t, uint32_t ipv4, const rte_ether_addr &mac);
Status learn_neighbor6(Tables &t, const uint8_t ipv6[16], const rte_ether_addr &mac);

// DPDK memory the tables hold, in bytes: what create_tables allocated (measured as heap
// growth around each structure) and what the keypair and binding pools took since.
struct TablesMemory {
    size_t sessions = 0;   // the SessionEntry array
    size_t by_index = 0;   // receiver-index array (4 positions per session slot)
    size_t routes4 = 0;    // rte_fib: 64 MiB tbl24 plus tbl8 groups and rte_rib nodes
    size_t routes6 = 0;    // rte_lpm6: 64 MiB tbl24 plus rules and tbl8 groups
    size_t hosts = 0;      // host routes: HostTable4 (/32) and rte_hash (/128)
    size_t neighbors = 0;  // both neighbor hashes
    size_t other = 0;      // RCU state
    size_t keypairs = 0;   // keypair pool chunks (grow with keypairs in use)
    size_t bindings = 0;   // binding pool chunks
    size_t total() const {
        return sessions + by_index + routes4 + routes6 + hosts + neighbors + other + keypairs +
               bindings;
    }
};
TablesMemory table_memory(const Tables &t);

// Shared-memory bytes one session with one keypair costs: its slot, the keypair in its pool,
// the slot's four by_index positions, one binding and one
// IPv4 host route. Shorter prefixes are excluded: their share depends on how they nest.
size_t bytes_per_session();

}  // namespace jg::dp
