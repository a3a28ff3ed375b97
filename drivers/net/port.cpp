#include "net/port.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstdio>

namespace jg::net {
namespace {

Error dpdk_error(const std::string &where, const std::string &what, int rc) {
    return make_error(where, what + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

// Per-lcore mempool cache; DPDK recommends a divisor of the pool size, 256 is the largest
// RTE_MEMPOOL_CACHE_MAX_SIZE allows from 512 upward.
constexpr unsigned kPoolCache = 256;
constexpr unsigned kBurstSlack = 64;

}  // namespace

Result<uint16_t> find_port(const std::string &device) {
    const std::string name = device.substr(0, device.find(','));
    uint16_t port_id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0)
        return make_error(device,
                          "no DPDK port of that name (is the vdev or PCI device listed "
                          "in eal.vdevs / eal.pci and bound to a DPDK driver?)");
    return port_id;
}

uint32_t mbuf_pool_size(const std::vector<PortSetup> &ports, unsigned lcores) {
    uint64_t n = 0;
    for (const auto &p : ports)
        n += uint64_t(p.rx_queues) * p.rx_desc + uint64_t(p.tx_queues) * p.tx_desc;
    n += uint64_t(lcores) * (kPoolCache + kBurstSlack);
    // Headroom for packets parked in rings between lcores.
    n += n / 4;
    return static_cast<uint32_t>(std::max<uint64_t>(n, 2048));
}

Result<rte_mempool *> create_mbuf_pool(const std::string &name, uint32_t n_mbufs, int socket,
                                       uint16_t priv_size) {
    rte_mempool *mp = rte_pktmbuf_pool_create(name.c_str(), n_mbufs, kPoolCache, priv_size,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (mp == nullptr)
        return dpdk_error("mempool " + name,
                          "cannot allocate " + std::to_string(n_mbufs) + " mbufs", rte_errno);
    return mp;
}

Result<PortState> start_port(const PortSetup &setup, rte_mempool *pool) {
    const std::string where = "port " + setup.name + " (" + setup.device + ")";
    auto id = find_port(setup.device);
    if (!id)
        return id.error();
    PortState st;
    st.port_id = *id;
    st.name = setup.name;

    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(st.port_id, &info); rc != 0)
        return dpdk_error(where, "cannot read device info", rc);
    st.driver = info.driver_name ? info.driver_name : "?";
    if (setup.rx_queues > info.max_rx_queues || setup.tx_queues > info.max_tx_queues)
        return make_error(
            where, "device supports at most " + std::to_string(info.max_rx_queues) + " RX / " +
                       std::to_string(info.max_tx_queues) + " TX queues, config asks for " +
                       std::to_string(setup.rx_queues) + " / " + std::to_string(setup.tx_queues));

    rte_eth_conf conf{};
    if (setup.rss && setup.rx_queues > 1) {
        const uint64_t want = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP;
        st.rss_hf = want & info.flow_type_rss_offloads;
        if (st.rss_hf != 0) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = st.rss_hf;
        } else {
            st.notes.push_back(
                "device offers no IP/UDP RSS; queue 0 gets all traffic unless "
                "the device spreads it itself");
        }
    } else if (setup.rss) {
        st.notes.push_back("rss requested with a single RX queue: nothing to spread");
    }

    if (int rc = rte_eth_dev_configure(st.port_id, setup.rx_queues, setup.tx_queues, &conf);
        rc != 0)
        return dpdk_error(where, "rte_eth_dev_configure failed", rc);

    uint16_t nb_rxd = setup.rx_desc, nb_txd = setup.tx_desc;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(st.port_id, &nb_rxd, &nb_txd); rc != 0)
        return dpdk_error(where, "cannot fit descriptor counts", rc);

    const int socket = rte_eth_dev_socket_id(st.port_id);
    for (uint16_t q = 0; q < setup.rx_queues; ++q) {
        if (int rc = rte_eth_rx_queue_setup(st.port_id, q, nb_rxd, socket, nullptr, pool); rc != 0)
            return dpdk_error(where, "RX queue " + std::to_string(q) + " setup failed", rc);
    }
    for (uint16_t q = 0; q < setup.tx_queues; ++q) {
        if (int rc = rte_eth_tx_queue_setup(st.port_id, q, nb_txd, socket, nullptr); rc != 0)
            return dpdk_error(where, "TX queue " + std::to_string(q) + " setup failed", rc);
    }
    st.rx_queues = setup.rx_queues;
    st.tx_queues = setup.tx_queues;

    if (int rc = rte_eth_dev_set_mtu(st.port_id, setup.mtu); rc != 0) {
        rte_eth_dev_get_mtu(st.port_id, &st.mtu);
        st.notes.push_back("MTU " + std::to_string(setup.mtu) + " not applied (" +
                           rte_strerror(-rc) + "), device keeps " + std::to_string(st.mtu));
    } else {
        st.mtu = setup.mtu;
    }

    if (setup.mac) {
        rte_ether_addr want{};
        std::copy(setup.mac->begin(), setup.mac->end(), want.addr_bytes);
        if (int rc = rte_eth_dev_default_mac_addr_set(st.port_id, &want); rc != 0)
            return dpdk_error(where, "cannot set MAC " + format_mac(*setup.mac), rc);
    }

    if (int rc = rte_eth_dev_start(st.port_id); rc != 0) {
        stop_port(st.port_id);
        return dpdk_error(where, "rte_eth_dev_start failed", rc);
    }
    // Promiscuous mode is best effort: some vdevs do not implement it and need not.
    if (rte_eth_promiscuous_enable(st.port_id) != 0)
        st.notes.push_back("promiscuous mode not supported by the device");

    rte_ether_addr mac{};
    if (rte_eth_macaddr_get(st.port_id, &mac) == 0)
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), st.mac.begin());
    return st;
}

void stop_port(uint16_t port_id) {
    if (!rte_eth_dev_is_valid_port(port_id))
        return;
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
}

std::string format_mac(const std::array<uint8_t, 6> &m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return buf;
}

}  // namespace jg::net
