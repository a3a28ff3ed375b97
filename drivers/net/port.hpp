// EthPort: bring-up and teardown of one DPDK ethdev port (queues, RSS, MTU) and the mbuf
// pool sized for all ports. Control path only: call from the main (control) lcore before
// workers launch and after they have been joined.
#pragma once

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace jg::net {

// Descriptor ring sizes per queue. Small rings keep --no-huge runs in a few MB; a NIC
// deployment raises them through the config.
inline constexpr uint16_t kDefaultRxDesc = 512;
inline constexpr uint16_t kDefaultTxDesc = 512;

struct PortSetup {
    std::string name;    // operator's name ("outer", "inner")
    std::string device;  // DPDK device name: vdev name ("net_tap0") or PCI address
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 1;
    uint16_t mtu = 1500;                        // bytes, L3
    bool rss = false;                           // spread RX by IP/UDP hash where the device can
    std::optional<std::array<uint8_t, 6>> mac;  // unset = the device's own address
    uint16_t rx_desc = kDefaultRxDesc;
    uint16_t tx_desc = kDefaultTxDesc;
};

struct PortState {
    uint16_t port_id = 0;
    std::string name;
    std::string driver;
    std::array<uint8_t, 6> mac{};
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
    uint64_t rss_hf = 0;             // hash functions actually enabled (0 = RSS off)
    uint16_t mtu = 0;                // as applied (the device may refuse a change: then its own)
    std::vector<std::string> notes;  // what differs from the request, and why
};

// Finds the ethdev for a device name as given on the EAL command line (vdev args after the
// first comma are ignored, so "net_tap0,iface=jg-outer" finds "net_tap0").
Result<uint16_t> find_port(const std::string &device);

// Number of mbufs the given ports need: every RX and TX descriptor filled, plus per-lcore
// caches and bursts in flight.
uint32_t mbuf_pool_size(const std::vector<PortSetup> &ports, unsigned lcores);

// Creates the packet mbuf pool on the given NUMA socket (SOCKET_ID_ANY when unknown), with
// `priv_size` bytes of per-mbuf private area (metadata that travels on internal rings).
Result<rte_mempool *> create_mbuf_pool(const std::string &name, uint32_t n_mbufs, int socket,
                                       uint16_t priv_size = 0);

// Configures queues (RSS on IPv4/IPv6 + UDP/TCP where offered), MTU, starts the port and
// enables promiscuous mode (vdevs have no filtering MAC of our choosing).
Result<PortState> start_port(const PortSetup &setup, rte_mempool *pool);

// Stops and closes the port; safe on a port that failed half way.
void stop_port(uint16_t port_id);

std::string format_mac(const std::array<uint8_t, 6> &mac);

}  // namespace jg::net
