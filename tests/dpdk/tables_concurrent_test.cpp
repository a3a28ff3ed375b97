// The tables under concurrent use, as the gateway runs them: one writer (the control core)
// replacing bindings, rotating keypairs and moving routes while reader threads (the workers)
// look them up and report quiescence. Readers must only ever see whole, live objects. Built
// and run under ThreadSanitizer as well (tests/run_all.sh).
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/tables.hpp"

namespace {

using namespace jg::dp;
using namespace std::chrono_literals;

constexpr uint32_t kSessions = 8;
constexpr uint16_t kReaders = 2;

// Every field of an object the writer publishes derives from one number, so a reader can
// tell a whole object from a torn, recycled or wiped one.
Binding binding_for(uint32_t slot, uint32_t gen) {
    Binding b{};
    b.family = 4;
    const uint32_t tag = slot << 24 | (gen & 0xffffff);
    std::memcpy(b.addr, &tag, 4);
    b.port = uint16_t(1 + (gen % 60000));
    std::memcpy(b.l2_dst.addr_bytes, &tag, 4);
    b.l2_dst.addr_bytes[4] = uint8_t(slot);
    b.l2_dst.addr_bytes[5] = uint8_t(b.port);
    return b;
}
bool binding_whole(const Binding &b, uint32_t slot) {
    uint32_t tag;
    std::memcpy(&tag, b.addr, 4);
    const uint32_t gen = tag & 0xffffff;
    return b.family == 4 && tag >> 24 == slot && b.port == uint16_t(1 + (gen % 60000)) &&
           std::memcmp(b.l2_dst.addr_bytes, &tag, 4) == 0 && b.l2_dst.addr_bytes[4] == slot &&
           b.l2_dst.addr_bytes[5] == uint8_t(b.port);
}

// Position slot * 4 + epoch % 4 (by_index has four per slot), the epoch above it: a live
// current and previous never share a position.
uint32_t index_for(uint32_t slot, uint32_t epoch) {
    return epoch << 16 | slot << 2 | (epoch & 3);
}
KeypairInit keypair_for(uint32_t slot, uint32_t epoch) {
    KeypairInit k;
    k.send_key.fill(uint8_t(epoch | 1));  // never all zero: a wiped key shows
    k.recv_key.fill(uint8_t(epoch | 1));
    k.local_index = index_for(slot, epoch);
    k.remote_index = ~k.local_index;
    k.key_epoch = epoch;
    return k;
}
bool keypair_whole(const Keypair &k, uint32_t slot) {
    const uint8_t fill = uint8_t(k.key_epoch | 1);
    for (unsigned i = 0; i < 32; ++i)
        if (k.send_key[i] != fill || k.recv_key[i] != fill)
            return false;
    return k.session_slot == slot && k.local_index == index_for(slot, k.key_epoch) &&
           k.remote_index == ~k.local_index;
}

struct ReaderStats {
    uint64_t lookups = 0;
    uint64_t torn = 0;  // objects that were not whole
    uint64_t index_misses = 0;
};

// Host route h (10.9.0.h/32) belongs to slot h or, moved, to the next slot.
uint32_t host_be(uint32_t h) {
    return rte_cpu_to_be_32(0x0a090000 | h);
}
uint32_t next_slot(uint32_t h) {
    return (h + 1) % kSessions;
}

TEST(TablesConcurrent, ReadersSeeOnlyWholeObjectsWhileTheWriterReplacesThem) {
    TablesConfig cfg;
    cfg.name = "tc";
    cfg.max_sessions = kSessions;
    cfg.n_workers = kReaders;
    cfg.max_routes4 = 64;
    cfg.max_routes6 = 16;
    cfg.lpm6_tbl8s = 16;
    cfg.max_neighbors = 16;
    auto created = create_tables(cfg);
    ASSERT_TRUE(created.ok()) << created.error().message();
    Tables t = *created;

    std::vector<uint32_t> epochs(kSessions, 0);
    for (uint32_t s = 0; s < kSessions; ++s) {
        auto slot = alloc_session(t, 100 + s, 0);
        ASSERT_TRUE(slot.ok());
        ASSERT_EQ(*slot, s);
        ASSERT_TRUE(install_keypair(t, s, keypair_for(s, 0), KeypairRole::Current).ok());
        ASSERT_TRUE(publish_binding(t, s, binding_for(s, 0)).ok());
        ASSERT_TRUE(set_session_flags(t, s, kSessionLive).ok());
    }
    for (uint32_t h = 0; h < kSessions; ++h) {
        const uint32_t ip = host_be(h);
        ASSERT_TRUE(add_route(t, 4, reinterpret_cast<const uint8_t *>(&ip), 32, h).ok());
    }

    std::atomic<bool> stop{false};
    std::vector<ReaderStats> stats(kReaders);
    std::vector<std::thread> readers;
    for (uint16_t id = 0; id < kReaders; ++id) {
        ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, id), 0);
        readers.emplace_back([&, id] {
            ReaderStats &st = stats[id];
            rte_rcu_qsbr_thread_online(t.qsbr, id);
            while (!stop.load(std::memory_order_relaxed)) {
                for (uint32_t s = 0; s < kSessions; ++s) {
                    const SessionEntry &e = t.sessions[s];
                    if (const Binding *b = e.binding.load(std::memory_order_acquire))
                        st.torn += !binding_whole(*b, s);
                    for (const auto *slot : {&e.current, &e.previous}) {
                        const Keypair *k = slot->load(std::memory_order_acquire);
                        if (k == nullptr)
                            continue;
                        st.torn += !keypair_whole(*k, s);
                        // The index a packet would carry finds a keypair (this one, or, if the
                        // writer retired it meanwhile, nothing).
                        const Keypair *found = keypair_by_index(t, k->local_index);
                        if (found == nullptr)
                            ++st.index_misses;
                        else
                            st.torn += found != k;
                    }
                    const uint32_t dst = 0x0a080000 | s << 8 | 1;  // inside the slot's /24
                    const uint32_t hop = route4(t, rte_cpu_to_be_32(dst));
                    st.torn += hop != kNoSession && hop != s;
                    // Host route s is with its owner or moved to the next slot (or, between a
                    // remove and an add, gone); a session's memo is 0 or a host it may own.
                    const uint32_t host_hop = route4(t, host_be(s));
                    st.torn += host_hop != kNoSession && host_hop != s && host_hop != next_slot(s);
                    const uint32_t memo = e.host4.load(std::memory_order_acquire);
                    st.torn += memo != 0 && memo != host_be(s) &&
                               memo != host_be((s + kSessions - 1) % kSessions);
                    ++st.lookups;
                }
                rte_rcu_qsbr_quiescent(t.qsbr, id);
            }
            rte_rcu_qsbr_thread_offline(t.qsbr, id);
        });
    }

    // The writer: for 1.5 s, per session in turn, a new binding, a rotated keypair (the old
    // previous retired), the route removed and added back; reclaim after each round.
    uint64_t rounds = 0;
    uint64_t freed = 0;
    const auto end = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < end) {
        // Removed host routes keep their hosts4 position, and retired keypairs their pool
        // memory, until their grace period ends: a writer ahead of slow readers (as under
        // TSan) waits for the last round's retirements, as the control core's rare rotations
        // never need to.
        while (pending_reclaim(t) > 0) {
            freed += reclaim(t);
            std::this_thread::yield();
        }
        for (uint32_t s = 0; s < kSessions; ++s) {
            const uint32_t gen = uint32_t(rounds + 1);
            ASSERT_TRUE(publish_binding(t, s, binding_for(s, gen)).ok());
            ASSERT_TRUE(
                install_keypair(t, s, keypair_for(s, ++epochs[s]), KeypairRole::Current).ok());
            const uint8_t net[4] = {10, 8, uint8_t(s), 0};
            if (rounds % 2 == 0)
                ASSERT_TRUE(add_route(t, 4, net, 24, s).ok());
            else
                ASSERT_TRUE(remove_route(t, 4, net, 24).ok());
            // Host route s: moved to the next slot in place, then back by a remove (its hash
            // position waits for the readers) and a fresh add.
            const uint32_t ip = host_be(s);
            const auto *host = reinterpret_cast<const uint8_t *>(&ip);
            if (rounds % 2 == 0) {
                ASSERT_TRUE(add_route(t, 4, host, 32, next_slot(s)).ok());
            } else {
                ASSERT_TRUE(remove_route(t, 4, host, 32).ok());
                ASSERT_TRUE(add_route(t, 4, host, 32, s).ok());
            }
        }
        freed += reclaim(t);
        ++rounds;
    }
    stop = true;
    for (auto &r : readers)
        r.join();
    freed += reclaim(t);

    uint64_t lookups = 0;
    for (const ReaderStats &st : stats) {
        EXPECT_EQ(st.torn, 0u) << "a reader saw a torn, recycled or wiped object";
        lookups += st.lookups;
    }
    std::printf("%llu writer rounds, %llu objects freed, %llu reader lookups\n",
                (unsigned long long)rounds, (unsigned long long)freed, (unsigned long long)lookups);
    EXPECT_GT(rounds, 10u);
    EXPECT_GT(lookups, 1000u);
    EXPECT_GT(freed, rounds) << "retired objects must be freed while the readers run";
    // With the readers offline every grace period has ended: nothing stays pending.
    EXPECT_EQ(pending_reclaim(t), 0u);
    for (uint16_t id = 0; id < kReaders; ++id)
        rte_rcu_qsbr_thread_unregister(t.qsbr, id);
    destroy_tables(t);
}

}  // namespace
