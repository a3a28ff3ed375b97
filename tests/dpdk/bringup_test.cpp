// Port bring-up and the core/queue map on net_ring vdevs: each worker lcore counts exactly
// the packets that arrive on the queues it owns.
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "dataplane/worker.hpp"
#include "net/port.hpp"

namespace {

using namespace std::chrono_literals;

struct RingPort {
    rte_ring *rx[2]{};
    rte_ring *tx[2]{};
    std::string name;
};

RingPort make_ring_port(const std::string &name) {
    RingPort p;
    p.name = name;
    for (int q = 0; q < 2; ++q) {
        p.rx[q] = rte_ring_create((name + "_rx" + std::to_string(q)).c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        p.tx[q] = rte_ring_create((name + "_tx" + std::to_string(q)).c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    }
    const int port = rte_eth_from_rings(name.c_str(), p.rx, 2, p.tx, 2, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    // The ring PMD chooses its own device name; bring-up finds ports by that name.
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    EXPECT_EQ(rte_eth_dev_get_name_by_port(uint16_t(port), dev), 0);
    p.name = dev;
    return p;
}

rte_mempool *pool() {
    static rte_mempool *mp = [] {
        auto r = jg::net::create_mbuf_pool("test_pool", 4096, SOCKET_ID_ANY);
        return r ? *r : nullptr;
    }();
    return mp;
}

void inject(rte_ring *ring, unsigned n, uint16_t len) {
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool());
        ASSERT_NE(m, nullptr);
        ASSERT_NE(rte_pktmbuf_append(m, len), nullptr);
        ASSERT_EQ(rte_ring_enqueue(ring, m), 0);
    }
}

bool wait_for(const std::function<bool()> &cond) {
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms))
        if (cond())
            return true;
    return cond();
}

uint64_t rx(const jg::dp::Worker &w, unsigned qi) {
    return w.queue_counters[qi].rx_packets.load();
}

TEST(PortBringup, FindPortNamesTheMissingDevice) {
    auto r = jg::net::find_port("net_nosuch0,iface=x");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "net_nosuch0,iface=x");
    EXPECT_NE(r.error().what.find("no DPDK port"), std::string::npos);
}

TEST(PortBringup, MbufPoolCoversEveryDescriptorAndLcoreCache) {
    std::vector<jg::net::PortSetup> ports(2);
    ports[0].rx_queues = 2;
    ports[0].tx_queues = 2;
    const uint32_t descs = 2 * 512 + 2 * 512 + 512 + 512;
    EXPECT_GE(jg::net::mbuf_pool_size(ports, 3), descs + 3 * 256);
}

TEST(PortBringup, RefusesMoreQueuesThanTheDeviceHas) {
    RingPort rp = make_ring_port("ring_toomany");
    jg::net::PortSetup s;
    s.name = "outer";
    s.device = rp.name;
    s.rx_queues = 8;
    s.tx_queues = 8;
    auto st = jg::net::start_port(s, pool());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("at most 2 RX"), std::string::npos) << st.error().message();
}

TEST(PortBringup, EachWorkerCountsOnlyTheQueuesItOwns) {
    ASSERT_NE(pool(), nullptr);
    RingPort rp = make_ring_port("ring_map");
    jg::net::PortSetup s;
    s.name = "outer";
    s.device = rp.name;
    s.rx_queues = 2;
    s.tx_queues = 2;
    s.rss = true;
    auto st = jg::net::start_port(s, pool());
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(st->rx_queues, 2);

    std::atomic<bool> stop{false};
    auto a = std::make_unique<jg::dp::Worker>();
    auto b = std::make_unique<jg::dp::Worker>();
    a->config.lcore = 1;
    a->config.n_queues = 1;
    a->config.queues[0] = {st->port_id, 0};
    b->config.lcore = 2;
    b->config.n_queues = 1;
    b->config.queues[0] = {st->port_id, 1};
    a->stop = b->stop = &stop;
    a->config.idle_sleep_us = b->config.idle_sleep_us = 50;
    ASSERT_EQ(rte_eal_remote_launch(jg::dp::worker_loop, a.get(), 1), 0);
    ASSERT_EQ(rte_eal_remote_launch(jg::dp::worker_loop, b.get(), 2), 0);

    inject(rp.rx[0], 300, 100);
    inject(rp.rx[1], 77, 60);
    EXPECT_TRUE(wait_for([&] { return rx(*a, 0) == 300 && rx(*b, 0) == 77; }))
        << "a=" << rx(*a, 0) << " b=" << rx(*b, 0);
    stop = true;
    EXPECT_EQ(rte_eal_wait_lcore(1), 0);
    EXPECT_EQ(rte_eal_wait_lcore(2), 0);

    EXPECT_EQ(rx(*a, 0), 300u);
    EXPECT_EQ(rx(*b, 0), 77u);
    EXPECT_EQ(a->queue_counters[0].rx_bytes.load(), 300u * 100);
    EXPECT_EQ(b->queue_counters[0].rx_bytes.load(), 77u * 60);
    EXPECT_EQ(jg::dp::total_drops(*a), 300u);
    EXPECT_EQ(jg::dp::total_drops(*b), 77u);
    EXPECT_GT(a->counters.loops.load(), 0u);
    // Every mbuf went back to the pool: nothing leaked in the drop path.
    EXPECT_EQ(rte_mempool_in_use_count(pool()), 0u);
    jg::net::stop_port(st->port_id);
}

}  // namespace
