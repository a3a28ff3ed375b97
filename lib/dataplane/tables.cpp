// Tables lifecycle and the single-writer API: every function here runs on the control core.
#include "dataplane/tables.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <sodium.h>

#include <cstring>
#include <deque>
#include <new>
#include <vector>

namespace jg::dp {

namespace {

struct Route {
    uint8_t family;
    uint8_t prefix_len;
    uint8_t addr[16];
};

// What waits for a grace period before it may be freed or reused.
enum class DeferredKind : uint8_t { keypair, binding, index_position, slot };

struct Deferred {
    uint64_t token;  // rte_rcu_qsbr_start() at retirement
    DeferredKind kind;
    void *object;      // keypair, binding
    int32_t position;  // by_index key position
    uint32_t slot;
};

}  // namespace

struct WriterLedger {
    std::vector<uint32_t> free_slots;        // LIFO; popped by alloc_session
    std::vector<std::vector<Route>> routes;  // per slot, for retire_session
    std::vector<uint8_t> in_use;             // per slot
    std::deque<Deferred> deferred;           // oldest token first
    // rte_lpm6 frees tbl8 groups on delete and may hand one to the next add while a worker
    // still walks it; an IPv6 add after a delete first waits for this grace period.
    bool lpm6_deleted = false;
    uint64_t lpm6_delete_token = 0;
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

// Unpublishes a keypair that is no longer reachable from its session: readers that found it
// before the delete keep it until they report quiescence.
void retire_keypair(Tables &t, Keypair *kp) {
    if (kp == nullptr)
        return;
    const int32_t pos = rte_hash_del_key(t.by_index, &kp->local_index);
    if (pos >= 0)
        defer(t, DeferredKind::index_position, nullptr, pos, 0);
    defer(t, DeferredKind::keypair, kp, 0, 0);
}

void free_keypair(Keypair *kp) {
    // Secrets die before the memory returns to the heap.
    sodium_memzero(kp->send_key, sizeof(kp->send_key));
    sodium_memzero(kp->recv_key, sizeof(kp->recv_key));
    kp->~Keypair();
    rte_free(kp);
}

void free_deferred(Tables &t, const Deferred &d) {
    switch (d.kind) {
        case DeferredKind::keypair:
            free_keypair(static_cast<Keypair *>(d.object));
            break;
        case DeferredKind::binding:
            rte_free(d.object);
            break;
        case DeferredKind::index_position:
            rte_hash_free_key_with_position(t.by_index, d.position);
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
    // Cuckoo tables without the extendable bucket can refuse inserts near full: size for 2x.
    p.entries = std::max<uint32_t>(entries * 2, 16);
    p.key_len = key_len;
    p.hash_func = rte_hash_crc;
    p.socket_id = socket;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
                   (lock_free ? RTE_HASH_EXTRA_FLAGS_NO_FREE_ON_DEL : 0);
    return rte_hash_create(&p);
}

Result<Keypair *> make_keypair(Tables &t, uint32_t slot, const KeypairInit &init) {
    int32_t taken = rte_hash_lookup(t.by_index, &init.local_index);
    if (taken >= 0)
        return table_error("install_keypair",
                           "local index " + std::to_string(init.local_index) + " already in use");
    void *mem = rte_zmalloc("jg_keypair", sizeof(Keypair), RTE_CACHE_LINE_SIZE);
    if (mem == nullptr)
        return table_error("install_keypair", "out of DPDK memory for a keypair");
    auto *kp = new (mem) Keypair();
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

int lpm_delete(Tables &t, const Route &r) {
    if (r.family == 4) {
        uint32_t ip;
        std::memcpy(&ip, r.addr, 4);
        return rte_lpm_delete(t.routes4, rte_be_to_cpu_32(ip), r.prefix_len);
    }
    const int rc = rte_lpm6_delete(t.routes6, r.addr, r.prefix_len);
    t.ledger->lpm6_deleted = true;
    t.ledger->lpm6_delete_token = rte_rcu_qsbr_start(t.qsbr);
    return rc;
}

// Blocks (control core only) until no worker can still be inside a tbl8 group an earlier
// IPv6 delete freed: one grace period, microseconds while workers poll.
void wait_lpm6_grace(Tables &t) {
    if (!t.ledger->lpm6_deleted)
        return;
    rte_rcu_qsbr_check(t.qsbr, t.ledger->lpm6_delete_token, true);
    t.ledger->lpm6_deleted = false;
}

}  // namespace

Result<Tables> create_tables(const TablesConfig &cfg) {
    if (cfg.max_sessions == 0 || cfg.max_sessions > (1u << 21))
        return table_error("max_sessions",
                           "must be in 1..2097152 (rte_lpm6 next hops are 21 bits)");
    if (cfg.n_workers == 0 || cfg.n_workers > kMaxWorkers)
        return table_error("n_workers", "must be in 1.." + std::to_string(kMaxWorkers));
    Tables t;
    t.max_sessions = cfg.max_sessions;
    t.n_workers = cfg.n_workers;
    t.ledger = new WriterLedger();
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

    void *mem = rte_zmalloc_socket("jg_sessions", sizeof(SessionEntry) * cfg.max_sessions,
                                   RTE_CACHE_LINE_SIZE, cfg.socket);
    if (mem == nullptr)
        return fail("session array");
    t.sessions = static_cast<SessionEntry *>(mem);
    for (uint32_t i = 0; i < cfg.max_sessions; ++i)
        new (&t.sessions[i]) SessionEntry();

    // Three keypairs per session at most (previous, current, next).
    t.by_index =
        create_hash(cfg.name + "_idx", cfg.max_sessions * 3, sizeof(uint32_t), cfg.socket, true);
    if (t.by_index == nullptr)
        return fail("by_index hash");
    t.neighbors4 =
        create_hash(cfg.name + "_nb4", cfg.max_neighbors, sizeof(uint32_t), cfg.socket, false);
    if (t.neighbors4 == nullptr)
        return fail("neighbors4 hash");
    t.neighbors6 = create_hash(cfg.name + "_nb6", cfg.max_neighbors, 16, cfg.socket, false);
    if (t.neighbors6 == nullptr)
        return fail("neighbors6 hash");

    rte_lpm_config lc{};
    lc.max_rules = cfg.max_routes4;
    lc.number_tbl8s = cfg.lpm4_tbl8s;
    t.routes4 = rte_lpm_create((cfg.name + "_r4").c_str(), cfg.socket, &lc);
    if (t.routes4 == nullptr)
        return fail("routes4 lpm");
    rte_lpm_rcu_config rc{};
    rc.v = t.qsbr;
    rc.mode = RTE_LPM_QSBR_MODE_DQ;  // never block the control core on a grace period
    if (rte_lpm_rcu_qsbr_add(t.routes4, &rc) != 0)
        return fail("routes4 rcu");
    rte_lpm6_config l6{};
    l6.max_rules = cfg.max_routes6;
    l6.number_tbl8s = cfg.lpm6_tbl8s;
    t.routes6 = rte_lpm6_create((cfg.name + "_r6").c_str(), cfg.socket, &l6);
    if (t.routes6 == nullptr)
        return fail("routes6 lpm");

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
                    free_keypair(kp);
            rte_free(const_cast<Binding *>(e.binding.exchange(nullptr)));
            e.~SessionEntry();
        }
        rte_free(t.sessions);
    }
    rte_hash_free(t.by_index);
    rte_hash_free(t.neighbors4);
    rte_hash_free(t.neighbors6);
    rte_lpm_free(t.routes4);  // also deletes its RCU defer queue
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
    SessionEntry &e = t.sessions[slot];
    Keypair *old_prev = e.previous.load(std::memory_order_relaxed);
    Keypair *old_cur = e.current.load(std::memory_order_relaxed);
    Keypair *old_next = e.next.load(std::memory_order_relaxed);

    // Published in the session before the index, so a worker that finds it by index
    // also finds its role.
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
    if (rte_hash_add_key_data(t.by_index, &kp->local_index, kp) != 0) {
        // The session must not keep a keypair that no packet can reach.
        auto *slot_ptr = role == KeypairRole::Current ? &e.current : &e.next;
        slot_ptr->store(nullptr, std::memory_order_release);
        defer(t, DeferredKind::keypair, kp, 0, 0);
        return table_error("install_keypair", "by_index is full");
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

Status retire_previous_keypair(Tables &t, uint32_t slot) {
    if (auto st = check_slot(t, slot, "retire_previous_keypair"); !st)
        return st;
    retire_keypair(t, t.sessions[slot].previous.exchange(nullptr, std::memory_order_acq_rel));
    return Ok{};
}

Status publish_binding(Tables &t, uint32_t slot, const Binding &b) {
    if (auto st = check_slot(t, slot, "publish_binding"); !st)
        return st;
    if (b.family != 4 && b.family != 6)
        return table_error("publish_binding", "family must be 4 or 6");
    void *mem = rte_zmalloc("jg_binding", sizeof(Binding), 0);
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
    int rc;
    if (family == 4) {
        uint32_t ip;
        std::memcpy(&ip, addr, 4);
        rc = rte_lpm_add(t.routes4, rte_be_to_cpu_32(ip), prefix_len, slot);
    } else {
        wait_lpm6_grace(t);
        rc = rte_lpm6_add(t.routes6, addr, prefix_len, slot);
    }
    if (rc != 0)
        return table_error("add_route", std::string("rte_lpm add failed: ") + rte_strerror(-rc));
    // A prefix moved from another session leaves that session's list.
    for (auto &list : t.ledger->routes)
        std::erase_if(list,
                      [&](const Route &x) { return route_matches(x, family, addr, prefix_len); });
    t.ledger->routes[slot].push_back(r);
    return Ok{};
}

Status remove_route(Tables &t, uint8_t family, const uint8_t *addr, uint8_t prefix_len) {
    for (auto &list : t.ledger->routes) {
        for (auto it = list.begin(); it != list.end(); ++it) {
            if (!route_matches(*it, family, addr, prefix_len))
                continue;
            const int rc = lpm_delete(t, *it);
            list.erase(it);
            if (rc != 0)
                return table_error("remove_route", "rte_lpm delete failed");
            return Ok{};
        }
    }
    return table_error("remove_route", "no such route");
}

Status set_session_flags(Tables &t, uint32_t slot, uint8_t flags) {
    if (auto st = check_slot(t, slot, "set_session_flags"); !st)
        return st;
    t.sessions[slot].flags.store(flags, std::memory_order_release);
    return Ok{};
}

Status retire_session(Tables &t, uint32_t slot) {
    if (auto st = check_slot(t, slot, "retire_session"); !st)
        return st;
    SessionEntry &e = t.sessions[slot];
    e.flags.store(0, std::memory_order_release);
    for (const Route &r : t.ledger->routes[slot])
        lpm_delete(t, r);
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

size_t bytes_per_session() {
    // rte_hash: one key slot (4-byte key + data pointer in a cache-aligned key entry, ~16 B)
    // and 2x bucket share per entry (a bucket is 64 B for 8 entries); tables are sized 2x.
    constexpr size_t kIndexEntry = 16 + 2 * 64 / 8;
    return sizeof(SessionEntry) + 3 * (sizeof(Keypair) + 2 * kIndexEntry) + sizeof(Binding);
}

}  // namespace jg::dp
