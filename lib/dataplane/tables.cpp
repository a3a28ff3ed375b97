// Tables lifecycle and the single-writer API: every function here runs on the control core.
#include "dataplane/tables.hpp"

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <sodium.h>

#include <cstring>
#include <deque>
#include <new>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/index_table.hpp"

namespace jg::dp {

// Named rather than anonymous: WriterLedger, which tables.hpp declares, holds these types.
namespace ledger {

struct Route {
    uint8_t family;
    uint8_t prefix_len;
    uint8_t addr[16];
};

// A route's identity as a map key: family, prefix length and the address bytes.
std::string route_key(uint8_t family, const uint8_t *addr, uint8_t prefix_len) {
    std::string k(2 + (family == 4 ? 4 : 16), '\0');
    k[0] = char(family);
    k[1] = char(prefix_len);
    std::memcpy(k.data() + 2, addr, k.size() - 2);
    return k;
}

// DPDK heap bytes in use on every socket: what the tables cost is measured as its growth.
size_t heap_in_use() {
    size_t total = 0;
    for (unsigned i = 0; i < rte_socket_count(); ++i) {
        rte_malloc_socket_stats st{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
            total += st.heap_allocsz_bytes;
    }
    return total;
}

// Fixed-size objects carved from DPDK memory in chunks, so an object costs its size and not
// a heap element header, and only objects in use (or waiting for a grace period) take memory.
// Control core only; chunks are never returned before the pool dies.
class ObjectPool {
  public:
    ObjectPool(size_t object_bytes, uint32_t per_chunk, int socket)
        : object_bytes_(object_bytes), per_chunk_(per_chunk), socket_(socket) {}
    ObjectPool(const ObjectPool &) = delete;
    ObjectPool &operator=(const ObjectPool &) = delete;
    ObjectPool(ObjectPool &&o) noexcept
        : object_bytes_(o.object_bytes_),
          per_chunk_(o.per_chunk_),
          socket_(o.socket_),
          chunks_(std::move(o.chunks_)),
          free_(std::move(o.free_)) {}
    ~ObjectPool() {
        for (void *c : chunks_)
            rte_free(c);
    }

    // Zeroed memory for one object, or nullptr when DPDK memory is exhausted.
    void *take() {
        if (free_.empty() && !grow())
            return nullptr;
        void *p = free_.back();
        free_.pop_back();
        std::memset(p, 0, object_bytes_);
        return p;
    }
    void give(void *p) { free_.push_back(p); }
    size_t bytes() const { return chunks_.size() * per_chunk_ * object_bytes_; }

  private:
    bool grow() {
        auto *c = static_cast<uint8_t *>(
            rte_malloc_socket("jg_pool", per_chunk_ * object_bytes_, RTE_CACHE_LINE_SIZE, socket_));
        if (c == nullptr)
            return false;
        chunks_.push_back(c);
        free_.reserve(free_.size() + per_chunk_);
        for (uint32_t i = per_chunk_; i-- > 0;)
            free_.push_back(c + i * object_bytes_);
        return true;
    }

    size_t object_bytes_;
    uint32_t per_chunk_;
    int socket_;
    std::vector<void *> chunks_;
    std::vector<void *> free_;
};

// Objects per chunk: a chunk of keypairs is about 100 KiB, of bindings 8 KiB.
constexpr uint32_t kKeypairsPerChunk = 256;
constexpr uint32_t kBindingsPerChunk = 256;
constexpr size_t kBindingStride = RTE_ALIGN_CEIL(sizeof(Binding), 8);
// routes4's answer for no route: the largest next hop its 4-byte entries hold, never a slot.
constexpr uint64_t kRouteMiss = (uint64_t(1) << 31) - 1;

// What waits for a grace period before it may be freed or reused.
enum class DeferredKind : uint8_t { keypair, binding, index_position, slot };

struct Deferred {
    uint64_t token;  // rte_rcu_qsbr_start() at retirement
    DeferredKind kind;
    void *object;      // keypair, binding; for index_position the rte_hash it belongs to
    int32_t position;  // rte_hash key position (hosts6)
    uint32_t slot;
};

}  // namespace ledger

using ledger::Deferred;
using ledger::DeferredKind;
using ledger::heap_in_use;
using ledger::kBindingsPerChunk;
using ledger::kBindingStride;
using ledger::kKeypairsPerChunk;
using ledger::kRouteMiss;
using ledger::ObjectPool;
using ledger::Route;
using ledger::route_key;

struct WriterLedger {
    explicit WriterLedger(int socket) : bindings(kBindingStride, kBindingsPerChunk, socket) {}

    std::vector<uint32_t> free_slots;                       // LIFO; popped by alloc_session
    std::vector<std::vector<Route>> routes;                 // per slot, for retire_session
    std::unordered_map<std::string, uint32_t> route_owner;  // route_key -> slot
    std::vector<uint8_t> in_use;                            // per slot
    std::deque<Deferred> deferred;                          // oldest token first
    // rte_fib and rte_lpm6 free tbl8 groups on delete and may hand one to the next add while
    // a worker still walks it; an add after a delete first waits for this grace period.
    bool route_deleted = false;
    uint64_t route_delete_token = 0;
    // One keypair pool per worker: a worker writes its sessions' keypairs (replay window,
    // counters), so keypairs of different owners never share a cache line.
    std::vector<ObjectPool> keypairs;
    ObjectPool bindings;
    TablesMemory created;  // heap growth of each structure create_tables made
};

namespace {

Error table_error(const std::string &where, const std::string &what) {
    return make_error("tables." + where, what);
}

Status check_slot(const Tables &t, uint32_t slot, const char *where) {
    if (slot >= t.max_sessions || !t.ledger->in_use[slot])
        return table_error(where, "slot " + std::to_string(slot) + " is not allocated");
    return Ok{};
}

void defer(Tables &t, DeferredKind kind, void *object, int32_t position, uint32_t slot) {
    const uint64_t token = rte_rcu_qsbr_start(t.qsbr);
    t.ledger->deferred.push_back(Deferred{token, kind, object, position, slot});
}

std::atomic<Keypair *> &index_entry_mut(Tables &t, uint32_t index) {
    return t.by_index[index & t.index_mask];
}

// Unpublishes a keypair that is no longer reachable from its session: readers that found it
// before the delete keep it until they report quiescence.
void retire_keypair(Tables &t, Keypair *kp) {
    if (kp == nullptr)
        return;
    index_entry_mut(t, kp->local_index).store(nullptr, std::memory_order_release);
    defer(t, DeferredKind::keypair, kp, 0, 0);
}

void wipe_keypair(Keypair *kp) {
    // Secrets die before the memory returns to the pool.
    sodium_memzero(kp->send_key, sizeof(kp->send_key));
    sodium_memzero(kp->recv_key, sizeof(kp->recv_key));
    kp->~Keypair();
}

void free_keypair(Tables &t, Keypair *kp) {
    const uint16_t pool = kp->pool;
    wipe_keypair(kp);
    t.ledger->keypairs[pool].give(kp);
}

void free_deferred(Tables &t, const Deferred &d) {
    switch (d.kind) {
        case DeferredKind::keypair:
            free_keypair(t, static_cast<Keypair *>(d.object));
            break;
        case DeferredKind::binding:
            t.ledger->bindings.give(d.object);
            break;
        case DeferredKind::index_position:
            rte_hash_free_key_with_position(static_cast<rte_hash *>(d.object), d.position);
            break;
        case DeferredKind::slot:
            t.ledger->free_slots.push_back(d.slot);
            break;
    }
}

rte_hash *create_hash(const std::string &name, uint32_t entries, uint32_t key_len, int socket,
                      bool lock_free) {
    rte_hash_parameters p{};
    p.name = name.c_str();
    // rte_hash rounds the buckets up to a power of two; its cuckoo displacement fills them
    // to about 95 %, so `entries` (the hard maximum in use) needs no further headroom.
    p.entries = std::max<uint32_t>(entries, 16);
    p.key_len = key_len;
    p.hash_func = rte_hash_crc;
    p.socket_id = socket;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
                   (lock_free ? RTE_HASH_EXTRA_FLAGS_NO_FREE_ON_DEL : 0);
    return rte_hash_create(&p);
}

Result<Keypair *> make_keypair(Tables &t, uint32_t slot, const KeypairInit &init) {
    const Keypair *there = index_entry(t, init.local_index)->load(std::memory_order_relaxed);
    if (there != nullptr && there->local_index == init.local_index)
        return table_error("install_keypair",
                           "local index " + std::to_string(init.local_index) + " already in use");
    if (there != nullptr)
        return table_error("install_keypair",
                           "local index " + std::to_string(init.local_index) +
                               ": its by_index position is held by local index " +
                               std::to_string(there->local_index));
    const uint16_t owner = t.sessions[slot].owner.load(std::memory_order_relaxed);
    void *mem = t.ledger->keypairs[owner].take();
    if (mem == nullptr)
        return table_error("install_keypair", "out of DPDK memory for a keypair");
    auto *kp = new (mem) Keypair();
    kp->pool = owner;
    std::memcpy(kp->send_key, init.send_key.data(), sizeof(kp->send_key));
    std::memcpy(kp->recv_key, init.recv_key.data(), sizeof(kp->recv_key));
    kp->local_index = init.local_index;
    kp->remote_index = init.remote_index;
    kp->session_slot = slot;
    kp->key_epoch = init.key_epoch;
    kp->created_ms = init.created_ms;
    kp->is_initiator = init.is_initiator;
    kp->replay.reset();
    return kp;
}

void reset_entry_counters(SessionEntry &e) {
    for (Counter *c : {&e.rx_packets, &e.rx_bytes, &e.tx_packets, &e.tx_bytes, &e.last_rx_tsc,
                       &e.counter_gaps, &e.replay_drops, &e.auth_failures, &e.reported_source})
        counter_set(*c, 0);
}

bool route_matches(const Route &r, uint8_t family, const uint8_t *addr, uint8_t prefix_len) {
    return r.family == family && r.prefix_len == prefix_len &&
           std::memcmp(r.addr, addr, family == 4 ? 4 : 16) == 0;
}

bool is_host(uint8_t family, uint8_t prefix_len) {
    return prefix_len == (family == 4 ? 32 : 128);
}

// A host route's key as rte_hash_crc wants it: aligned words.
struct alignas(8) HostKey {
    uint8_t bytes[16] = {};
};

HostKey host_key(uint8_t family, const uint8_t *addr) {
    HostKey k;
    std::memcpy(k.bytes, addr, family == 4 ? 4 : 16);
    return k;
}

bool is_host4(uint8_t family, uint8_t prefix_len) {
    return family == 4 && is_host(family, prefix_len);
}

// An IPv4 address (4 bytes, network order) as the word SessionEntry::host4 holds.
uint32_t ipv4_word(const uint8_t *addr) {
    uint32_t ip;
    std::memcpy(&ip, addr, 4);
    return ip;
}

// Makes `addr` `slot`'s IPv4 host memo unless it already has one.
void remember_host4(Tables &t, uint32_t slot, const uint8_t *addr) {
    uint32_t none = 0;
    t.sessions[slot].host4.compare_exchange_strong(none, ipv4_word(addr),
                                                   std::memory_order_release);
}

// Forgets `addr` as `slot`'s IPv4 host memo, before the route it stands for moves or goes.
void forget_host4(Tables &t, uint32_t slot, const uint8_t *addr) {
    uint32_t expected = ipv4_word(addr);
    t.sessions[slot].host4.compare_exchange_strong(expected, 0, std::memory_order_release);
}

int route_delete(Tables &t, const Route &r) {
    if (is_host4(r.family, r.prefix_len))
        return host_table4_erase(t.hosts4, ipv4_word(r.addr));
    if (is_host(r.family, r.prefix_len)) {
        // The key position stays reserved until no worker can still be reading it.
        rte_hash *h = t.hosts6;
        const HostKey k = host_key(r.family, r.addr);
        const int32_t pos = rte_hash_del_key(h, k.bytes);
        if (pos < 0)
            return pos;
        defer(t, DeferredKind::index_position, h, pos, 0);
        return 0;
    }
    int rc;
    if (r.family == 4) {
        rc = rte_fib_delete(t.routes4, rte_be_to_cpu_32(ipv4_word(r.addr)), r.prefix_len);
    } else {
        rc = rte_lpm6_delete(t.routes6, r.addr, r.prefix_len);
    }
    t.ledger->route_deleted = true;
    t.ledger->route_delete_token = rte_rcu_qsbr_start(t.qsbr);
    return rc;
}

// Blocks (control core only) until no worker can still be inside a tbl8 group an earlier
// delete freed: one grace period, microseconds while workers poll.
void wait_route_grace(Tables &t) {
    if (!t.ledger->route_deleted)
        return;
    rte_rcu_qsbr_check(t.qsbr, t.ledger->route_delete_token, true);
    t.ledger->route_deleted = false;
}

}  // namespace

Result<Tables> create_tables(const TablesConfig &cfg) {
    if (cfg.max_sessions == 0 || cfg.max_sessions > kMaxSessions)
        return table_error("max_sessions", "must be in 1.." + std::to_string(kMaxSessions) +
                                               " (rte_lpm6 next hops are 21 bits)");
    if (cfg.n_workers == 0 || cfg.n_workers > kMaxWorkers)
        return table_error("n_workers", "must be in 1.." + std::to_string(kMaxWorkers));
    Tables t;
    t.max_sessions = cfg.max_sessions;
    t.n_workers = cfg.n_workers;
    t.ledger = new WriterLedger(cfg.socket);
    for (uint16_t i = 0; i < cfg.n_workers; ++i)
        t.ledger->keypairs.emplace_back(sizeof(Keypair), kKeypairsPerChunk, cfg.socket);
    TablesMemory &mem_use = t.ledger->created;
    size_t heap = heap_in_use();
    // Charges the heap growth since the last call to `field`.
    auto charge = [&heap](size_t &field) {
        const size_t now = heap_in_use();
        field += now - heap;
        heap = now;
    };
    auto fail = [&](const std::string &what) -> Result<Tables> {
        std::string why = what + " (" + rte_strerror(rte_errno) + ")";
        destroy_tables(t);
        return table_error("create", why);
    };

    const size_t qsbr_bytes = rte_rcu_qsbr_get_memsize(cfg.n_workers);
    t.qsbr = static_cast<rte_rcu_qsbr *>(
        rte_zmalloc_socket("jg_qsbr", qsbr_bytes, RTE_CACHE_LINE_SIZE, cfg.socket));
    if (t.qsbr == nullptr || rte_rcu_qsbr_init(t.qsbr, cfg.n_workers) != 0)
        return fail("rte_rcu_qsbr");
    charge(mem_use.other);

    void *mem = rte_zmalloc_socket("jg_sessions", sizeof(SessionEntry) * cfg.max_sessions,
                                   RTE_CACHE_LINE_SIZE, cfg.socket);
    if (mem == nullptr)
        return fail("session array");
    t.sessions = static_cast<SessionEntry *>(mem);
    for (uint32_t i = 0; i < cfg.max_sessions; ++i)
        new (&t.sessions[i]) SessionEntry();
    charge(mem_use.sessions);

    const uint64_t positions = uint64_t(1) << proto::receiver_index_position_bits(cfg.max_sessions);
    t.by_index = static_cast<std::atomic<Keypair *> *>(
        rte_zmalloc_socket("jg_by_index", sizeof(std::atomic<Keypair *>) * positions,
                           RTE_CACHE_LINE_SIZE, cfg.socket));
    if (t.by_index == nullptr)
        return fail("by_index array");
    for (uint64_t i = 0; i < positions; ++i)
        new (&t.by_index[i]) std::atomic<Keypair *>(nullptr);
    t.index_mask = uint32_t(positions - 1);
    charge(mem_use.by_index);
    t.neighbors4 =
        create_hash(cfg.name + "_nb4", cfg.max_neighbors, sizeof(uint32_t), cfg.socket, false);
    if (t.neighbors4 == nullptr)
        return fail("neighbors4 hash");
    t.neighbors6 = create_hash(cfg.name + "_nb6", cfg.max_neighbors, 16, cfg.socket, false);
    if (t.neighbors6 == nullptr)
        return fail("neighbors6 hash");
    charge(mem_use.neighbors);
    if (!host_table4_create(t.hosts4, std::max<uint32_t>(cfg.max_hosts4, 1), cfg.socket))
        return fail("hosts4 table");
    // Host routes are deleted under readers: positions are freed after a grace period.
    t.hosts6 = create_hash(cfg.name + "_h6", cfg.max_hosts6, 16, cfg.socket, true);
    if (t.hosts6 == nullptr)
        return fail("hosts6 hash");
    charge(mem_use.hosts);

    rte_fib_conf fc{};
    fc.type = RTE_FIB_DIR24_8;
    fc.default_nh = kRouteMiss;
    fc.max_routes = int(cfg.max_routes4);
    fc.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
    fc.dir24_8.num_tbl8 = cfg.lpm4_tbl8s;
    t.routes4 = rte_fib_create((cfg.name + "_r4").c_str(), cfg.socket, &fc);
    if (t.routes4 == nullptr)
        return fail("routes4 fib");
    charge(mem_use.routes4);
    rte_lpm6_config l6{};
    l6.max_rules = cfg.max_routes6;
    l6.number_tbl8s = cfg.lpm6_tbl8s;
    t.routes6 = rte_lpm6_create((cfg.name + "_r6").c_str(), cfg.socket, &l6);
    if (t.routes6 == nullptr)
        return fail("routes6 lpm");
    charge(mem_use.routes6);

    t.ledger->routes.resize(cfg.max_sessions);
    t.ledger->in_use.assign(cfg.max_sessions, 0);
    t.ledger->free_slots.reserve(cfg.max_sessions);
    for (uint32_t i = cfg.max_sessions; i-- > 0;)
        t.ledger->free_slots.push_back(i);
    return t;
}

void destroy_tables(Tables &t) {
    if (t.ledger != nullptr) {
        for (const Deferred &d : t.ledger->deferred)
            free_deferred(t, d);
        t.ledger->deferred.clear();
    }
    if (t.sessions != nullptr) {
        for (uint32_t i = 0; i < t.max_sessions; ++i) {
            SessionEntry &e = t.sessions[i];
            for (auto *ptr : {&e.current, &e.previous, &e.next})
                if (Keypair *kp = ptr->exchange(nullptr))
                    wipe_keypair(kp);  // the pools' chunks go with the ledger
            e.binding.store(nullptr);
            e.~SessionEntry();
        }
        rte_free(t.sessions);
    }
    rte_free(t.by_index);
    rte_hash_free(t.neighbors4);
    rte_hash_free(t.neighbors6);
    host_table4_free(t.hosts4);
    rte_hash_free(t.hosts6);
    rte_fib_free(t.routes4);
    rte_lpm6_free(t.routes6);
    rte_free(t.qsbr);
    delete t.ledger;
    t = Tables{};
}

Result<uint32_t> alloc_session(Tables &t, uint64_t session_id, uint16_t owner) {
    if (owner >= t.n_workers)
        return table_error("alloc_session", "owner " + std::to_string(owner) + " is not a worker");
    if (t.ledger->free_slots.empty()) {
        reclaim(t);
        if (t.ledger->free_slots.empty())
            return table_error("alloc_session", "all " + std::to_string(t.max_sessions) +
                                                    " session slots are in use");
    }
    const uint32_t slot = t.ledger->free_slots.back();
    t.ledger->free_slots.pop_back();
    t.ledger->in_use[slot] = 1;
    SessionEntry &e = t.sessions[slot];
    reset_entry_counters(e);
    e.session_id = session_id;
    e.host4.store(0, std::memory_order_relaxed);
    e.owner.store(owner, std::memory_order_relaxed);
    e.flags.store(0, std::memory_order_release);
    return slot;
}

Status install_keypair(Tables &t, uint32_t slot, const KeypairInit &init, KeypairRole role) {
    if (auto st = check_slot(t, slot, "install_keypair"); !st)
        return st;
    auto made = make_keypair(t, slot, init);
    if (!made)
        return made.error();
    Keypair *kp = *made;
    // Nothing can fail past make_keypair. The index goes first: a worker that finds the
    // keypair by index a moment before the session lists it decrypts with it correctly; it
    // only reports a next keypair's confirmation on the following packet.
    index_entry_mut(t, kp->local_index).store(kp, std::memory_order_release);
    SessionEntry &e = t.sessions[slot];
    Keypair *old_prev = e.previous.load(std::memory_order_relaxed);
    Keypair *old_cur = e.current.load(std::memory_order_relaxed);
    Keypair *old_next = e.next.load(std::memory_order_relaxed);
    if (role == KeypairRole::Current) {
        // An unconfirmed next is kept as previous (the peer may already use it), as
        // WireGuard's noise.c add_new_keypair does for the initiator.
        if (old_next != nullptr) {
            e.next.store(nullptr, std::memory_order_release);
            e.previous.store(old_next, std::memory_order_release);
            e.current.store(kp, std::memory_order_release);
            retire_keypair(t, old_cur);
        } else {
            e.previous.store(old_cur, std::memory_order_release);
            e.current.store(kp, std::memory_order_release);
        }
        retire_keypair(t, old_prev);
    } else {
        e.next.store(kp, std::memory_order_release);
        e.previous.store(nullptr, std::memory_order_release);
        retire_keypair(t, old_next);
        retire_keypair(t, old_prev);
    }
    return Ok{};
}

Status confirm_next_keypair(Tables &t, uint32_t slot) {
    if (auto st = check_slot(t, slot, "confirm_next_keypair"); !st)
        return st;
    SessionEntry &e = t.sessions[slot];
    Keypair *next = e.next.load(std::memory_order_relaxed);
    if (next == nullptr)
        return Ok{};
    Keypair *old_prev = e.previous.load(std::memory_order_relaxed);
    e.previous.store(e.current.load(std::memory_order_relaxed), std::memory_order_release);
    e.current.store(next, std::memory_order_release);
    e.next.store(nullptr, std::memory_order_release);
    retire_keypair(t, old_prev);
    return Ok{};
}

Status retire_keypair_by_index(Tables &t, uint32_t slot, uint32_t local_index) {
    if (auto st = check_slot(t, slot, "retire_keypair_by_index"); !st)
        return st;
    SessionEntry &e = t.sessions[slot];
    for (auto *role : {&e.previous, &e.current, &e.next}) {
        Keypair *kp = role->load(std::memory_order_relaxed);
        if (kp != nullptr && kp->local_index == local_index) {
            role->store(nullptr, std::memory_order_release);
            retire_keypair(t, kp);
            break;
        }
    }
    return Ok{};
}

Status publish_binding(Tables &t, uint32_t slot, const Binding &b) {
    if (auto st = check_slot(t, slot, "publish_binding"); !st)
        return st;
    if (b.family != 4 && b.family != 6)
        return table_error("publish_binding", "family must be 4 or 6");
    void *mem = t.ledger->bindings.take();
    if (mem == nullptr)
        return table_error("publish_binding", "out of DPDK memory for a binding");
    auto *nb = new (mem) Binding(b);
    const Binding *old = t.sessions[slot].binding.exchange(nb, std::memory_order_acq_rel);
    if (old != nullptr)
        defer(t, DeferredKind::binding, const_cast<Binding *>(old), 0, 0);
    return Ok{};
}

Status add_route(Tables &t, uint8_t family, const uint8_t *addr, uint8_t prefix_len,
                 uint32_t slot) {
    if (auto st = check_slot(t, slot, "add_route"); !st)
        return st;
    if ((family != 4 && family != 6) || prefix_len > (family == 4 ? 32 : 128) ||
        (family == 4 && prefix_len == 0))
        return table_error("add_route", "bad family or prefix length");
    Route r{family, prefix_len, {}};
    std::memcpy(r.addr, addr, family == 4 ? 4 : 16);
    const std::string key = route_key(family, addr, prefix_len);
    const auto previous = t.ledger->route_owner.find(key);
    const bool moved = previous != t.ledger->route_owner.end();
    if (moved && is_host4(family, prefix_len))
        forget_host4(t, previous->second, addr);
    int rc;
    if (is_host4(family, prefix_len)) {
        // Over an existing key (a host moving between sessions) the slot is replaced with
        // one atomic store.
        rc = host_table4_set(t.hosts4, ipv4_word(addr), slot);
    } else if (is_host(family, prefix_len)) {
        // As above; rte_hash replaces the data of an existing key in one store too.
        rte_hash *h = t.hosts6;
        const HostKey k = host_key(family, addr);
        const uintptr_t data = slot;
        rc = rte_hash_add_key_data(h, k.bytes, reinterpret_cast<void *>(data));
        if (rc == -ENOSPC && reclaim(t) != 0)  // key positions waiting for a grace period
            rc = rte_hash_add_key_data(h, k.bytes, reinterpret_cast<void *>(data));
    } else if (family == 4) {
        wait_route_grace(t);
        rc = rte_fib_add(t.routes4, rte_be_to_cpu_32(ipv4_word(addr)), prefix_len, slot);
    } else {
        wait_route_grace(t);
        rc = rte_lpm6_add(t.routes6, addr, prefix_len, slot);
    }
    if (rc != 0)
        return table_error("add_route", std::string("route add failed: ") + rte_strerror(-rc));
    // A prefix moved from another session leaves that session's list.
    if (moved) {
        std::erase_if(t.ledger->routes[previous->second],
                      [&](const Route &x) { return route_matches(x, family, addr, prefix_len); });
        previous->second = slot;
    } else {
        t.ledger->route_owner.emplace(key, slot);
    }
    t.ledger->routes[slot].push_back(r);
    if (is_host4(family, prefix_len))
        remember_host4(t, slot, addr);
    return Ok{};
}

Status remove_route(Tables &t, uint8_t family, const uint8_t *addr, uint8_t prefix_len) {
    if (family != 4 && family != 6)
        return table_error("remove_route", "family must be 4 or 6");
    const auto owner = t.ledger->route_owner.find(route_key(family, addr, prefix_len));
    if (owner == t.ledger->route_owner.end())
        return table_error("remove_route", "no such route");
    const uint32_t owner_slot = owner->second;
    auto &list = t.ledger->routes[owner_slot];
    t.ledger->route_owner.erase(owner);
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (!route_matches(*it, family, addr, prefix_len))
            continue;
        if (is_host4(family, prefix_len))
            forget_host4(t, owner_slot, addr);
        const int rc = route_delete(t, *it);
        list.erase(it);
        if (rc != 0)
            return table_error("remove_route", "route delete failed");
        return Ok{};
    }
    return table_error("remove_route", "no such route");
}

int lookup_route4(const Tables &t, uint32_t ip, uint32_t *slot) {
    const uint32_t found = route4(t, rte_cpu_to_be_32(ip));
    if (found == kNoSession)
        return -ENOENT;
    *slot = found;
    return 0;
}

int lookup_route6(const Tables &t, const uint8_t ip[16], uint32_t *slot) {
    const uint32_t found = route6(t, ip);
    if (found == kNoSession)
        return -ENOENT;
    *slot = found;
    return 0;
}

void route4_bulk(const Tables &t, const uint32_t *ip_be, uint32_t *slot, uint16_t n) {
    host_table4_find_bulk(t.hosts4, ip_be, slot, n);
    // Misses go to the prefix table together, so rte_fib still resolves them in one call.
    uint32_t miss_ip[kRouteBulkMax];
    uint64_t miss_hop[kRouteBulkMax];
    uint16_t n_miss = 0;
    for (uint16_t i = 0; i < n; ++i)
        if (slot[i] == kNoSession)
            miss_ip[n_miss++] = rte_be_to_cpu_32(ip_be[i]);
    if (n_miss == 0)
        return;
    rte_fib_lookup_bulk(t.routes4, miss_ip, miss_hop, n_miss);
    uint16_t next = 0;
    for (uint16_t i = 0; i < n; ++i) {
        if (slot[i] == kNoSession) {
            const uint64_t hop = miss_hop[next++];
            slot[i] = hop < t.max_sessions ? uint32_t(hop) : kNoSession;
        }
    }
}

uint32_t route4(const Tables &t, uint32_t ip_be) {
    if (const uint32_t slot = host_table4_find(t.hosts4, ip_be); slot != kNoSession)
        return slot;
    uint32_t ip = rte_be_to_cpu_32(ip_be);
    uint64_t hop = kRouteMiss;
    rte_fib_lookup_bulk(t.routes4, &ip, &hop, 1);
    return hop < t.max_sessions ? uint32_t(hop) : kNoSession;
}

uint32_t route6(const Tables &t, const uint8_t *ip) {
    const HostKey k = host_key(6, ip);
    void *data = nullptr;
    if (rte_hash_lookup_data(t.hosts6, k.bytes, &data) >= 0)
        return uint32_t(reinterpret_cast<uintptr_t>(data));
    uint32_t hop = kNoSession;
    if (rte_lpm6_lookup(t.routes6, k.bytes, &hop) != 0 || hop >= t.max_sessions)
        return kNoSession;
    return hop;
}

Status set_session_flags(Tables &t, uint32_t slot, uint8_t flags) {
    if (auto st = check_slot(t, slot, "set_session_flags"); !st)
        return st;
    t.sessions[slot].flags.store(flags, std::memory_order_release);
    return Ok{};
}

Status rearm_source_report(Tables &t, uint32_t slot) {
    if (auto st = check_slot(t, slot, "rearm_source_report"); !st)
        return st;
    counter_set(t.sessions[slot].reported_source, 0);
    return Ok{};
}

Status retire_session(Tables &t, uint32_t slot) {
    if (auto st = check_slot(t, slot, "retire_session"); !st)
        return st;
    SessionEntry &e = t.sessions[slot];
    e.flags.store(0, std::memory_order_release);
    e.host4.store(0, std::memory_order_release);
    for (const Route &r : t.ledger->routes[slot]) {
        route_delete(t, r);
        t.ledger->route_owner.erase(route_key(r.family, r.addr, r.prefix_len));
    }
    t.ledger->routes[slot].clear();
    for (auto *ptr : {&e.next, &e.current, &e.previous})
        retire_keypair(t, ptr->exchange(nullptr, std::memory_order_acq_rel));
    if (const Binding *b = e.binding.exchange(nullptr, std::memory_order_acq_rel))
        defer(t, DeferredKind::binding, const_cast<Binding *>(b), 0, 0);
    t.ledger->in_use[slot] = 0;
    defer(t, DeferredKind::slot, nullptr, 0, slot);
    return Ok{};
}

uint32_t reclaim(Tables &t) {
    uint32_t freed = 0;
    auto &q = t.ledger->deferred;
    while (!q.empty() && rte_rcu_qsbr_check(t.qsbr, q.front().token, false) == 1) {
        free_deferred(t, q.front());
        q.pop_front();
        ++freed;
    }
    return freed;
}

uint32_t pending_reclaim(const Tables &t) {
    return uint32_t(t.ledger->deferred.size());
}

Status learn_neighbor(Tables &t, uint32_t ipv4, const rte_ether_addr &mac) {
    uint64_t packed = 0;
    std::memcpy(&packed, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    // Lock-free rte_hash replaces an existing key's data with one atomic store.
    if (rte_hash_add_key_data(t.neighbors4, &ipv4, reinterpret_cast<void *>(packed)) != 0)
        return table_error("learn_neighbor", "neighbors4 is full");
    return Ok{};
}

Status learn_neighbor6(Tables &t, const uint8_t ipv6[16], const rte_ether_addr &mac) {
    uint64_t packed = 0;
    std::memcpy(&packed, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    alignas(8) uint8_t key[16];  // rte_hash_crc reads the key in aligned words
    std::memcpy(key, ipv6, 16);
    if (rte_hash_add_key_data(t.neighbors6, key, reinterpret_cast<void *>(packed)) != 0)
        return table_error("learn_neighbor6", "neighbors6 is full");
    return Ok{};
}

TablesMemory table_memory(const Tables &t) {
    TablesMemory m = t.ledger->created;
    for (const ObjectPool &p : t.ledger->keypairs)
        m.keypairs += p.bytes();
    m.bindings = t.ledger->bindings.bytes();
    return m;
}

size_t bytes_per_session() {
    // by_index: four 8-byte positions per slot, up to twice that after rounding to a power of
    // two. hosts4: a 64-byte bucket per 3.5 hosts.
    constexpr size_t kIndexPositions = 2 * 4 * sizeof(void *);
    constexpr size_t kHostEntry =
        (2 * sizeof(HostBucket4) + HostBucket4::kEntries - 1) / HostBucket4::kEntries;
    return sizeof(SessionEntry) + sizeof(Keypair) + kIndexPositions + kHostEntry + kBindingStride;
}

}  // namespace jg::dp
