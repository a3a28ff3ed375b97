// The control core's writer API over the data-plane tables: publication order, keypair
// rotation, routes, and frees that wait for every worker's quiescent state.
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_rcu_qsbr.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "dataplane/tables.hpp"

namespace {

using namespace jg::dp;

std::string unique_name() {
    static std::atomic<int> n{0};
    return "tt" + std::to_string(n++);
}

Tables make(uint32_t sessions = 8, uint16_t workers = 2) {
    TablesConfig cfg;
    cfg.name = unique_name();
    cfg.max_sessions = sessions;
    cfg.n_workers = workers;
    cfg.max_routes4 = 64;
    cfg.max_routes6 = 64;
    cfg.lpm6_tbl8s = 64;
    cfg.max_hosts4 = 64;
    cfg.max_hosts6 = 64;
    cfg.max_neighbors = 64;
    auto t = create_tables(cfg);
    EXPECT_TRUE(t.ok()) << t.error().message();
    return *t;
}

KeypairInit keys(uint32_t local_index, uint8_t fill) {
    KeypairInit k;
    k.send_key.fill(fill);
    k.recv_key.fill(uint8_t(fill + 1));
    k.local_index = local_index;
    k.remote_index = local_index + 1000;
    return k;
}

// The inner routes' session slot for a host-order IPv4 address, or kNoSession.
uint32_t route4_host(const Tables &t, uint32_t ip) {
    return route4(t, rte_cpu_to_be_32(ip));
}

Keypair *by_index(const Tables &t, uint32_t index) {
    return keypair_by_index(t, index);
}

TEST(Tables, CreateRejectsZeroSessionsAndTooManyWorkers) {
    TablesConfig cfg;
    cfg.name = unique_name();
    cfg.max_sessions = 0;
    EXPECT_FALSE(create_tables(cfg).ok());
    cfg.max_sessions = 4;
    cfg.n_workers = kMaxWorkers + 1;
    auto r = create_tables(cfg);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("n_workers"), std::string::npos);
}

TEST(Tables, AllocSessionSetsIdOwnerAndLeavesItNotLive) {
    Tables t = make();
    auto slot = alloc_session(t, 0xabcdef, 1);
    ASSERT_TRUE(slot.ok());
    const SessionEntry &e = t.sessions[*slot];
    EXPECT_EQ(e.session_id, 0xabcdefu);
    EXPECT_EQ(e.owner.load(), 1);
    EXPECT_EQ(e.flags.load(), 0);
    EXPECT_FALSE(alloc_session(t, 1, 2).ok()) << "owner 2 is not one of 2 workers";
    ASSERT_TRUE(set_session_flags(t, *slot, kSessionLive).ok());
    EXPECT_EQ(t.sessions[*slot].flags.load(), kSessionLive);
    destroy_tables(t);
}

TEST(Tables, InitiatorKeypairsRotateCurrentToPreviousAndRetireTheOldPrevious) {
    Tables t = make();
    const uint32_t s = *alloc_session(t, 7, 0);
    ASSERT_TRUE(install_keypair(t, s, keys(11, 1), KeypairRole::Current).ok());
    ASSERT_TRUE(install_keypair(t, s, keys(12, 2), KeypairRole::Current).ok());
    SessionEntry &e = t.sessions[s];
    EXPECT_EQ(e.current.load()->local_index, 12u);
    EXPECT_EQ(e.previous.load()->local_index, 11u);
    EXPECT_EQ(e.current.load()->session_slot, s);
    EXPECT_EQ(e.current.load()->remote_index, 1012u);
    EXPECT_EQ(e.current.load()->send_key[0], 2);
    EXPECT_EQ(pending_reclaim(t), 0u);

    ASSERT_TRUE(install_keypair(t, s, keys(13, 3), KeypairRole::Current).ok());
    EXPECT_EQ(e.current.load()->local_index, 13u);
    EXPECT_EQ(e.previous.load()->local_index, 12u);
    EXPECT_EQ(by_index(t, 11), nullptr) << "the retired keypair left by_index at once";
    EXPECT_EQ(by_index(t, 12), e.previous.load());
    EXPECT_EQ(by_index(t, 13), e.current.load());
    EXPECT_EQ(pending_reclaim(t), 1u) << "the keypair (its index position is free at once)";
    // No worker registered: the grace period is already over.
    EXPECT_EQ(reclaim(t), 1u);
    destroy_tables(t);
}

TEST(Tables, ResponderKeypairWaitsInNextUntilConfirmed) {
    Tables t = make();
    const uint32_t s = *alloc_session(t, 7, 0);
    ASSERT_TRUE(install_keypair(t, s, keys(21, 1), KeypairRole::Next).ok());
    SessionEntry &e = t.sessions[s];
    EXPECT_EQ(e.current.load(), nullptr);
    ASSERT_NE(e.next.load(), nullptr);
    EXPECT_EQ(by_index(t, 21), e.next.load()) << "a next keypair already decrypts";
    ASSERT_TRUE(confirm_next_keypair(t, s).ok());
    EXPECT_EQ(e.current.load()->local_index, 21u);
    EXPECT_EQ(e.next.load(), nullptr);

    ASSERT_TRUE(install_keypair(t, s, keys(22, 2), KeypairRole::Next).ok());
    ASSERT_TRUE(confirm_next_keypair(t, s).ok());
    EXPECT_EQ(e.current.load()->local_index, 22u);
    EXPECT_EQ(e.previous.load()->local_index, 21u);
    ASSERT_TRUE(retire_keypair_by_index(t, s, 21).ok());  // the previous one
    EXPECT_EQ(e.previous.load(), nullptr);
    EXPECT_EQ(by_index(t, 21), nullptr);
    EXPECT_TRUE(confirm_next_keypair(t, s).ok()) << "no next: nothing to do";
    EXPECT_EQ(e.current.load()->local_index, 22u);
    destroy_tables(t);
}

TEST(Tables, LocalIndexInUseIsRefused) {
    Tables t = make();
    const uint32_t a = *alloc_session(t, 1, 0);
    const uint32_t b = *alloc_session(t, 2, 0);
    ASSERT_TRUE(install_keypair(t, a, keys(31, 1), KeypairRole::Current).ok());
    auto st = install_keypair(t, b, keys(31, 2), KeypairRole::Current);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("already in use"), std::string::npos);
    EXPECT_EQ(t.sessions[b].current.load(), nullptr);
    EXPECT_EQ(by_index(t, 31)->session_slot, a);
    destroy_tables(t);
}

TEST(Tables, RoutesResolveToTheirSessionAndRetireSessionUnpublishesEverything) {
    Tables t = make();
    const uint32_t s = *alloc_session(t, 9, 1);
    const uint8_t net4[4] = {10, 9, 0, 0};
    const uint8_t net6[16] = {0xfd, 0, 0, 9};
    ASSERT_TRUE(add_route(t, 4, net4, 24, s).ok());
    ASSERT_TRUE(add_route(t, 6, net6, 64, s).ok());
    ASSERT_TRUE(install_keypair(t, s, keys(41, 1), KeypairRole::Current).ok());
    Binding b{};
    b.family = 4;
    b.port = 5000;
    ASSERT_TRUE(publish_binding(t, s, b).ok());
    ASSERT_TRUE(set_session_flags(t, s, kSessionLive).ok());

    uint32_t hop = 0;
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 9, 0, 77)), s);
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 8, 0, 77)), kNoSession);
    uint8_t host6[16] = {0xfd, 0, 0, 9, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_EQ(lookup_route6(t, host6, &hop), 0);
    EXPECT_EQ(hop, s);

    ASSERT_TRUE(retire_session(t, s).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 9, 0, 77)), kNoSession);
    EXPECT_NE(lookup_route6(t, host6, &hop), 0);
    EXPECT_EQ(by_index(t, 41), nullptr);
    EXPECT_EQ(t.sessions[s].flags.load(), 0);
    EXPECT_EQ(t.sessions[s].binding.load(), nullptr);
    EXPECT_FALSE(publish_binding(t, s, b).ok()) << "a retired slot takes no writes";
    EXPECT_GT(reclaim(t), 0u);
    EXPECT_EQ(pending_reclaim(t), 0u);
    destroy_tables(t);
}

TEST(Tables, RemoveRouteNeedsTheExactPrefix) {
    Tables t = make();
    const uint32_t s = *alloc_session(t, 9, 0);
    const uint8_t net4[4] = {10, 9, 0, 0};
    ASSERT_TRUE(add_route(t, 4, net4, 16, s).ok());
    EXPECT_FALSE(remove_route(t, 4, net4, 24).ok());
    EXPECT_TRUE(remove_route(t, 4, net4, 16).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 9, 1, 1)), kNoSession);
    destroy_tables(t);
}

TEST(Tables, FreesWaitForEveryRegisteredWorkerToReportQuiescence) {
    Tables t = make(8, 2);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, 0), 0);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, 1), 0);
    rte_rcu_qsbr_thread_online(t.qsbr, 0);
    rte_rcu_qsbr_thread_online(t.qsbr, 1);
    const uint32_t s = *alloc_session(t, 1, 0);
    Binding b{};
    b.family = 4;
    b.port = 1;
    ASSERT_TRUE(publish_binding(t, s, b).ok());
    b.port = 2;
    ASSERT_TRUE(publish_binding(t, s, b).ok());
    EXPECT_EQ(t.sessions[s].binding.load()->port, 2);
    EXPECT_EQ(pending_reclaim(t), 1u);
    EXPECT_EQ(reclaim(t), 0u) << "both workers may still hold the old binding";
    rte_rcu_qsbr_quiescent(t.qsbr, 0);
    EXPECT_EQ(reclaim(t), 0u) << "worker 1 has not passed a quiescent state";
    rte_rcu_qsbr_quiescent(t.qsbr, 1);
    EXPECT_EQ(reclaim(t), 1u);
    rte_rcu_qsbr_thread_offline(t.qsbr, 0);
    rte_rcu_qsbr_thread_offline(t.qsbr, 1);
    rte_rcu_qsbr_thread_unregister(t.qsbr, 0);
    rte_rcu_qsbr_thread_unregister(t.qsbr, 1);
    destroy_tables(t);
}

TEST(Tables, RetiredSlotIsReusedOnlyAfterTheGracePeriod) {
    Tables t = make(1, 1);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, 0), 0);
    rte_rcu_qsbr_thread_online(t.qsbr, 0);
    const uint32_t s = *alloc_session(t, 1, 0);
    ASSERT_TRUE(retire_session(t, s).ok());
    auto again = alloc_session(t, 2, 0);
    ASSERT_FALSE(again.ok()) << "a worker may still be reading the old tenant";
    rte_rcu_qsbr_quiescent(t.qsbr, 0);
    again = alloc_session(t, 2, 0);
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(*again, s);
    EXPECT_EQ(t.sessions[s].session_id, 2u);
    rte_rcu_qsbr_thread_offline(t.qsbr, 0);
    rte_rcu_qsbr_thread_unregister(t.qsbr, 0);
    destroy_tables(t);
}

TEST(Tables, Ipv6AddAfterDeleteWaitsForTheReadersGracePeriod) {
    using namespace std::chrono;
    Tables t = make(8, 1);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, 0), 0);
    std::atomic<bool> online{false}, allow{false}, done{false};
    // A worker that stays inside its iteration until allowed to finish it.
    std::thread reader([&] {
        rte_rcu_qsbr_thread_online(t.qsbr, 0);
        online = true;
        while (!done.load()) {
            if (allow.load())
                rte_rcu_qsbr_quiescent(t.qsbr, 0);
            std::this_thread::sleep_for(microseconds(100));
        }
        rte_rcu_qsbr_thread_offline(t.qsbr, 0);
    });
    while (!online.load())
        std::this_thread::yield();
    const uint32_t s = *alloc_session(t, 1, 0);
    // Prefixes, not /128s: host routes live in a hash and never reuse a tbl8 group.
    const uint8_t a[16] = {0xfd, 0, 0, 1, 0, 0, 0, 1};
    const uint8_t b[16] = {0xfd, 0, 0, 1, 0, 0, 0, 2};
    ASSERT_TRUE(add_route(t, 6, a, 64, s).ok());
    ASSERT_TRUE(remove_route(t, 6, a, 64).ok());
    std::thread releaser([&] {
        std::this_thread::sleep_for(milliseconds(30));
        allow = true;
    });
    const auto t0 = steady_clock::now();
    ASSERT_TRUE(add_route(t, 6, b, 64, s).ok());
    EXPECT_GE(steady_clock::now() - t0, milliseconds(20)) << "the add waited for the reader";
    releaser.join();
    EXPECT_EQ(route6(t, b), s);
    EXPECT_EQ(route6(t, a), kNoSession);
    done = true;
    reader.join();
    rte_rcu_qsbr_thread_unregister(t.qsbr, 0);
    destroy_tables(t);
}

TEST(Tables, LearnNeighborOverwritesTheMac) {
    Tables t = make();
    const uint32_t ip = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 5));
    ASSERT_TRUE(learn_neighbor(t, ip, rte_ether_addr{{2, 0, 0, 0, 0, 1}}).ok());
    ASSERT_TRUE(learn_neighbor(t, ip, rte_ether_addr{{2, 0, 0, 0, 0, 9}}).ok());
    void *data = nullptr;
    ASSERT_GE(rte_hash_lookup_data(t.neighbors4, &ip, &data), 0);
    const uint64_t bits = reinterpret_cast<uintptr_t>(data);
    EXPECT_EQ((bits >> 40) & 0xff, 9u);
    destroy_tables(t);
}

TEST(Tables, ReportsBytesPerSession) {
    const size_t bytes = bytes_per_session();
    std::printf("bytes per session: %zu (slot %zu, keypair %zu, binding %zu)\n", bytes,
                sizeof(SessionEntry), sizeof(Keypair), sizeof(Binding));
    EXPECT_GE(bytes, sizeof(SessionEntry) + sizeof(Keypair) + sizeof(Binding));
    EXPECT_LE(bytes, 1024u);
}

TEST(Tables, KeypairAndBindingMemoryComesFromPoolsThatReuseFreedObjects) {
    Tables t = make(4, 2);
    const TablesMemory empty = table_memory(t);
    EXPECT_EQ(empty.keypairs, 0u) << "no keypair memory before a session has keys";
    EXPECT_EQ(empty.bindings, 0u);
    EXPECT_GT(empty.sessions, 0u);
    EXPECT_GT(empty.by_index, 0u);
    EXPECT_GT(empty.routes4, 0u);

    auto s0 = alloc_session(t, 1, 0);
    auto s1 = alloc_session(t, 2, 1);
    ASSERT_TRUE(s0.ok() && s1.ok());
    ASSERT_TRUE(install_keypair(t, *s0, keys(10, 1), KeypairRole::Current).ok());
    ASSERT_TRUE(install_keypair(t, *s1, keys(20, 2), KeypairRole::Current).ok());
    Keypair *k0 = t.sessions[*s0].current.load();
    Keypair *k1 = t.sessions[*s1].current.load();
    EXPECT_EQ(k0->pool, 0);
    EXPECT_EQ(k1->pool, 1) << "a keypair lives in its owner worker's pool";
    EXPECT_GE(std::abs(reinterpret_cast<intptr_t>(k0) - reinterpret_cast<intptr_t>(k1)),
              intptr_t(sizeof(Keypair)));
    Binding b{};
    b.family = 4;
    ASSERT_TRUE(publish_binding(t, *s0, b).ok());
    const TablesMemory used = table_memory(t);
    EXPECT_GE(used.keypairs, 2 * sizeof(Keypair));
    EXPECT_GE(used.bindings, sizeof(Binding));

    // A rotation retires the old previous; after the grace period its memory is reused.
    ASSERT_TRUE(install_keypair(t, *s0, keys(11, 3), KeypairRole::Current).ok());
    ASSERT_TRUE(install_keypair(t, *s0, keys(12, 4), KeypairRole::Current).ok());
    EXPECT_EQ(reclaim(t), 1u) << "keypair 10 (no reader registered)";
    ASSERT_TRUE(install_keypair(t, *s0, keys(13, 5), KeypairRole::Current).ok());
    EXPECT_EQ(t.sessions[*s0].current.load(), k0) << "the freed keypair's memory came back";
    EXPECT_EQ(t.sessions[*s0].current.load()->local_index, 13u);
    EXPECT_EQ(table_memory(t).keypairs, used.keypairs) << "no new chunk for a reused object";
    destroy_tables(t);
}

TEST(Tables, FreedKeypairsHaveTheirKeysWiped) {
    Tables t = make(2, 1);
    auto s = alloc_session(t, 1, 0);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(install_keypair(t, *s, keys(10, 0x5a), KeypairRole::Current).ok());
    Keypair *old = t.sessions[*s].current.load();
    ASSERT_TRUE(install_keypair(t, *s, keys(11, 0x6b), KeypairRole::Current).ok());
    ASSERT_TRUE(retire_keypair_by_index(t, *s, 10).ok());  // the previous one
    reclaim(t);
    // The pool keeps the memory: reading it is defined, and no key byte survives.
    for (uint8_t byte : old->send_key)
        EXPECT_EQ(byte, 0);
    for (uint8_t byte : old->recv_key)
        EXPECT_EQ(byte, 0);
    destroy_tables(t);
}

TEST(Tables, ARouteMovedToAnotherSessionLeavesTheFirstOnRetire) {
    Tables t = make(4, 1);
    auto a = alloc_session(t, 1, 0);
    auto b = alloc_session(t, 2, 0);
    ASSERT_TRUE(a.ok() && b.ok());
    const uint8_t net[4] = {10, 1, 0, 0};
    ASSERT_TRUE(add_route(t, 4, net, 16, *a).ok());
    ASSERT_TRUE(add_route(t, 4, net, 16, *b).ok());
    ASSERT_TRUE(retire_session(t, *a).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 1, 2, 3)), *b)
        << "retiring the first owner must not delete the moved route";
    ASSERT_TRUE(remove_route(t, 4, net, 16).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 1, 2, 3)), kNoSession);
    EXPECT_FALSE(remove_route(t, 4, net, 16).ok());
    EXPECT_FALSE(remove_route(t, 5, net, 16).ok());
    destroy_tables(t);
}

TEST(Tables, HostRoutesWinOverTheirCoveringPrefixes) {
    Tables t = make(4, 1);
    const uint32_t a = *alloc_session(t, 1, 0);
    const uint32_t b = *alloc_session(t, 2, 0);
    const uint8_t net4[4] = {10, 5, 0, 0};
    const uint8_t host4[4] = {10, 5, 1, 7};
    ASSERT_TRUE(add_route(t, 4, net4, 16, a).ok());
    ASSERT_TRUE(add_route(t, 4, host4, 32, b).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 5, 1, 7)), b);
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 5, 1, 8)), a);

    // The bulk form a worker uses: hits, prefix matches and misses in one burst, in order.
    const uint32_t ips[4] = {
        rte_cpu_to_be_32(RTE_IPV4(10, 5, 1, 8)), rte_cpu_to_be_32(RTE_IPV4(10, 5, 1, 7)),
        rte_cpu_to_be_32(RTE_IPV4(10, 6, 0, 1)), rte_cpu_to_be_32(RTE_IPV4(10, 5, 1, 7))};
    uint32_t slots[4] = {};
    route4_bulk(t, ips, slots, 4);
    EXPECT_EQ(slots[0], a);
    EXPECT_EQ(slots[1], b);
    EXPECT_EQ(slots[2], kNoSession);
    EXPECT_EQ(slots[3], b);

    const uint8_t net6[16] = {0xfd, 0, 0, 5};
    const uint8_t host6[16] = {0xfd, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    const uint8_t other6[16] = {0xfd, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8};
    ASSERT_TRUE(add_route(t, 6, net6, 64, a).ok());
    ASSERT_TRUE(add_route(t, 6, host6, 128, b).ok());
    EXPECT_EQ(route6(t, host6), b);
    EXPECT_EQ(route6(t, other6), a);

    // Without the host route the covering prefix answers again.
    ASSERT_TRUE(remove_route(t, 4, host4, 32).ok());
    ASSERT_TRUE(remove_route(t, 6, host6, 128).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 5, 1, 7)), a);
    EXPECT_EQ(route6(t, host6), a);
    EXPECT_FALSE(remove_route(t, 4, host4, 32).ok()) << "already gone";
    destroy_tables(t);
}

TEST(Tables, AHostRouteMovesBetweenSessionsAndItsKeyWaitsForReaders) {
    Tables t = make(4, 1);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(t.qsbr, 0), 0);
    rte_rcu_qsbr_thread_online(t.qsbr, 0);
    const uint32_t a = *alloc_session(t, 1, 0);
    const uint32_t b = *alloc_session(t, 2, 0);
    const uint8_t host4[4] = {10, 7, 0, 2};
    uint32_t host_be;
    std::memcpy(&host_be, host4, 4);
    ASSERT_TRUE(add_route(t, 4, host4, 32, a).ok());
    EXPECT_EQ(t.sessions[a].host4.load(), host_be) << "the owner's allowed-IPs memo";
    ASSERT_TRUE(add_route(t, 4, host4, 32, b).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 7, 0, 2)), b);
    EXPECT_EQ(t.sessions[a].host4.load(), 0u) << "the old owner must forget a moved host";
    EXPECT_EQ(t.sessions[b].host4.load(), host_be);
    ASSERT_TRUE(retire_session(t, a).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 7, 0, 2)), b)
        << "retiring the first owner must not delete the moved host route";

    // An IPv4 host's entry is emptied in place: nothing waits for readers.
    const uint32_t before = pending_reclaim(t);
    ASSERT_TRUE(remove_route(t, 4, host4, 32).ok());
    EXPECT_EQ(route4_host(t, RTE_IPV4(10, 7, 0, 2)), kNoSession);
    EXPECT_EQ(t.sessions[b].host4.load(), 0u);
    EXPECT_EQ(pending_reclaim(t), before);
    // An IPv6 host's rte_hash key position: a worker that has not reported quiescence may
    // still hold it.
    uint8_t host6[16] = {0x20, 0x01, 0x0d, 0xb8};
    host6[15] = 2;
    ASSERT_TRUE(add_route(t, 6, host6, 128, b).ok());
    EXPECT_EQ(route6(t, host6), b);
    ASSERT_TRUE(remove_route(t, 6, host6, 128).ok());
    EXPECT_EQ(route6(t, host6), kNoSession);
    EXPECT_EQ(pending_reclaim(t), before + 1);
    EXPECT_EQ(reclaim(t), 0u);
    rte_rcu_qsbr_quiescent(t.qsbr, 0);
    EXPECT_EQ(reclaim(t), before + 1);
    rte_rcu_qsbr_thread_offline(t.qsbr, 0);
    rte_rcu_qsbr_thread_unregister(t.qsbr, 0);
    destroy_tables(t);
}

TEST(Tables, AKeypairWhoseIndexIsLiveLeavesTheSessionAsItWas) {
    Tables t = make(2, 1);
    const uint32_t s = *alloc_session(t, 1, 0);
    ASSERT_TRUE(install_keypair(t, s, keys(100, 1), KeypairRole::Current).ok());
    ASSERT_TRUE(install_keypair(t, s, keys(101, 2), KeypairRole::Current).ok());
    Keypair *cur = t.sessions[s].current.load();
    Keypair *prev = t.sessions[s].previous.load();

    const jg::Status again = install_keypair(t, s, keys(100, 3), KeypairRole::Current);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message().find("local index 100 already in use"), std::string::npos);
    EXPECT_EQ(t.sessions[s].current.load(), cur) << "the refused keypair must not become current";
    EXPECT_EQ(t.sessions[s].previous.load(), prev) << "nor push the previous one out";
    EXPECT_EQ(by_index(t, 100), prev);
    EXPECT_EQ(by_index(t, 101), cur);
    EXPECT_EQ(prev->send_key[0], 1) << "nor overwrite the live keypair's keys";
    destroy_tables(t);
}

TEST(Tables, AnIndexIsFoundOnlyWhole) {
    Tables t = make(2, 1);  // 16 positions: index & 15
    ASSERT_EQ(t.index_mask, 15u);
    const uint32_t s = *alloc_session(t, 1, 0);
    ASSERT_TRUE(install_keypair(t, s, keys(0x50005, 1), KeypairRole::Current).ok());
    EXPECT_NE(by_index(t, 0x50005), nullptr);
    EXPECT_EQ(by_index(t, 0x60005), nullptr) << "same position, other high bits";
    EXPECT_EQ(by_index(t, 0x50006), nullptr);
    destroy_tables(t);
}

TEST(Tables, APositionHeldByAnotherIndexIsRefused) {
    Tables t = make(2, 1);  // 16 positions
    const uint32_t a = *alloc_session(t, 1, 0);
    const uint32_t b = *alloc_session(t, 2, 0);
    ASSERT_TRUE(install_keypair(t, a, keys(0x10003, 1), KeypairRole::Current).ok());
    Keypair *held = t.sessions[a].current.load();
    const jg::Status refused = install_keypair(t, b, keys(0x20003, 2), KeypairRole::Current);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find(
                  "local index 131075: its by_index position is held by local index 65539"),
              std::string::npos)
        << refused.error().message();
    EXPECT_EQ(t.sessions[b].current.load(), nullptr) << "nothing half-installed";
    EXPECT_EQ(by_index(t, 0x10003), held);
    destroy_tables(t);
}

// An expired keypair leaves the data plane by its index: it stops at once (whichever role it
// had) and its position is free for the next index the control core hands out there.
TEST(Tables, RetiringAKeypairByIndexFreesItsRoleAndPosition) {
    Tables t = make(2, 1);
    const uint32_t a = *alloc_session(t, 1, 0);
    const uint32_t b = *alloc_session(t, 2, 0);
    ASSERT_TRUE(install_keypair(t, a, keys(0x10003, 1), KeypairRole::Current).ok());
    ASSERT_TRUE(install_keypair(t, a, keys(0x10004, 2), KeypairRole::Next).ok());
    Keypair *next = t.sessions[a].next.load();
    const uint32_t pending = pending_reclaim(t);

    ASSERT_TRUE(retire_keypair_by_index(t, a, 0x10003).ok());
    EXPECT_EQ(t.sessions[a].current.load(), nullptr) << "the expired current no longer seals";
    EXPECT_EQ(t.sessions[a].next.load(), next) << "the unexpired next stays";
    EXPECT_EQ(by_index(t, 0x10003), nullptr);
    EXPECT_EQ(pending_reclaim(t), pending + 1) << "freed after a grace period";
    ASSERT_TRUE(retire_keypair_by_index(t, a, 0x10003).ok()) << "already gone: nothing to do";
    ASSERT_TRUE(retire_keypair_by_index(t, a, 0x777).ok());
    EXPECT_EQ(pending_reclaim(t), pending + 1);

    ASSERT_TRUE(install_keypair(t, b, keys(0x20003, 3), KeypairRole::Current).ok());
    EXPECT_EQ(by_index(t, 0x20003), t.sessions[b].current.load());
    EXPECT_FALSE(retire_keypair_by_index(t, 9, 0x20003).ok()) << "slot 9 does not exist";
    destroy_tables(t);
}

}  // namespace
