#include "config/gateway_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "config/policy_file.hpp"

#include "config_test_yaml.hpp"

namespace jg {
namespace {

using test::ConfigYaml;
using test::error_of;
using test::kKeyA;
using test::kKeyB;

ConfigYaml with_peers(std::string peers) {
    ConfigYaml y;
    y.rest = std::move(peers);
    return y;
}

// ---- a valid file and its defaults -----------------------------------------------------------

TEST(GatewayConfig, MinimalFileLoadsWithContractDefaults) {
    auto c = test::parse(ConfigYaml{});
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->node_id, "gw-1");
    EXPECT_EQ(c->eal.lcores, (std::vector<uint32_t>{0, 1, 2}));
    EXPECT_FALSE(c->eal.memory_mb.has_value());
    EXPECT_EQ(c->listen_port, 51820);
    EXPECT_EQ(c->limits.max_sessions, 65536u);
    EXPECT_EQ(c->limits.handshake_rate_per_sec, 1000u);
    EXPECT_EQ(c->limits.reassembly_datagrams, 256u);
    EXPECT_EQ(c->limits.reassembly_timeout_ms, 2000u);
    EXPECT_EQ(c->metrics.listen, "127.0.0.1:9105");
    EXPECT_EQ(c->metrics.path, "/metrics");
    EXPECT_EQ(c->private_key.kind, PrivateKeySource::Kind::Ephemeral);
    ASSERT_NE(c->policies.find("default"), nullptr);
    EXPECT_EQ(c->policies.find("default")->session.max_lifetime_ms, 28'800'000);
    EXPECT_EQ(c->outer_port().name, "outer");
    EXPECT_EQ(c->ports[0].mtu, 1500u);
    EXPECT_FALSE(c->ports[0].mac.has_value());
}

TEST(GatewayConfig, RssDefaultsToOnWhenAPortHasSeveralRxQueues) {
    auto c = test::parse(ConfigYaml{});
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_TRUE(c->ports[0].rss);   // 2 rx queues
    EXPECT_FALSE(c->ports[1].rss);  // 1 rx queue
}

TEST(GatewayConfig, WorkerQueuesResolveToPortIndices) {
    auto c = test::parse(ConfigYaml{});
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->workers.size(), 2u);
    EXPECT_EQ(c->workers[0].lcore, 1u);
    EXPECT_EQ(c->workers[0].queues[1].port, "inner");
    EXPECT_EQ(c->workers[0].queues[1].port_index, 1u);
    EXPECT_EQ(c->workers[1].queues[0].queue, 1);
}

TEST(GatewayConfig, ControlLcoreDefaultsToTheLowestEalLcore) {
    ConfigYaml y;
    y.control.clear();
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->control_lcore, 0u);
}

TEST(GatewayConfig, LcoresAcceptRangesListsAndSingleNumbers) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2,5\", no_pci: true, vdevs: [net_tap0, net_tap1]}\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->eal.lcores, (std::vector<uint32_t>{0, 1, 2, 5}));
    EXPECT_EQ(format_lcore_list(c->eal.lcores), "0-2,5");

    y.eal = "eal: {lcores: [2, 0, \"1\"], no_pci: true, vdevs: [net_tap0, net_tap1]}\n";
    c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->eal.lcores, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(GatewayConfig, ReversedLcoreRangeIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"2-0\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores: bad lcore list item \"2-0\" (expected N or N-M)");
}

TEST(GatewayConfig, LcoreListedTwiceIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: [0, 1, 2, 1], vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores[3]: lcore 1 is listed twice");
}

// ---- the core/queue map ----------------------------------------------------------------------

TEST(GatewayConfig, QueueBeyondThePortsQueueCountIsRejected) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}
  - {lcore: 2, queues: [{port: outer, queue: 3}]}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: workers[1].queues[0]: queue 3 of port outer does not exist (port has 2 "
              "queues)");
}

TEST(GatewayConfig, QueuePolledByTwoWorkersNamesBothWorkers) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}, {port: outer, queue: 1}]}
  - {lcore: 2, queues: [{port: outer, queue: 0}]}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: workers[1].queues[0]: queue 0 of port outer is already polled by worker "
              "lcore 1 (workers[0])");
}

TEST(GatewayConfig, QueuePolledByNoWorkerIsNamed) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}
)";
    EXPECT_EQ(error_of(y), "t.yaml: workers: queue 1 of port outer is polled by no worker");
}

TEST(GatewayConfig, LcoreUsedByTwoWorkersIsRejected) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}
  - {lcore: 1, queues: [{port: outer, queue: 1}]}
)";
    EXPECT_EQ(error_of(y), "t.yaml: workers[1].lcore: lcore 1 is already used by workers[0]");
}

TEST(GatewayConfig, ControlLcoreCannotAlsoBeAWorker) {
    ConfigYaml y;
    y.control = "control_lcore: 2\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: workers[1].lcore: lcore 2 is the control lcore; workers need their own");
}

TEST(GatewayConfig, WorkerLcoreMustBeAnEalLcore) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}
  - {lcore: 7, queues: [{port: outer, queue: 1}]}
)";
    EXPECT_EQ(error_of(y), "t.yaml: workers[1].lcore: lcore 7 is not in eal.lcores (0-2)");
}

TEST(GatewayConfig, ControlLcoreMustBeAnEalLcore) {
    ConfigYaml y;
    y.control = "control_lcore: 9\n";
    EXPECT_EQ(error_of(y), "t.yaml: control_lcore: lcore 9 is not in eal.lcores (0-2)");
}

TEST(GatewayConfig, UnknownPortNameInAWorkerIsRejectedWithTheKnownNames) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outr, queue: 0}]}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: workers[0].queues[0].port: no port named outr (ports: outer, inner)");
}

TEST(GatewayConfig, WorkerWithoutQueuesIsRejected) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}, {port: outer, queue: 1}]}
  - {lcore: 2, queues: []}
)";
    EXPECT_EQ(error_of(y), "t.yaml: workers[1].queues: a worker must poll at least one queue");
}

TEST(GatewayConfig, EveryWorkerNeedsItsOwnTxQueueOnEveryPort) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[1].tx_queues: 1 tx queues for 2 workers: every worker transmits on "
              "its own tx queue of every port");
}

TEST(GatewayConfig, EmptyWorkerListIsRejected) {
    ConfigYaml y;
    y.workers = "workers: []\n";
    EXPECT_EQ(error_of(y), "t.yaml: workers: at least one worker is needed");
}

TEST(GatewayConfig, WorkerWithoutAQueueListIsRejected) {
    ConfigYaml y;
    y.workers = "workers:\n  - {lcore: 1}\n";
    EXPECT_EQ(error_of(y), "t.yaml: workers[0].queues: required key is missing");
}

TEST(GatewayConfig, WorkerLcoreBeyondTheDpdkMaximumIsRejected) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}
  - {lcore: 128, queues: [{port: outer, queue: 1}]}
)";
    EXPECT_EQ(error_of(y), "t.yaml: workers[1].lcore: must be in 0..127, got 128");
}

TEST(GatewayConfig, ControlLcoreBeyondTheDpdkMaximumIsRejected) {
    ConfigYaml y;
    y.control = "control_lcore: 128\n";
    EXPECT_EQ(error_of(y), "t.yaml: control_lcore: must be in 0..127, got 128");
}

TEST(GatewayConfig, QueueIndexBeyondThePortQueueMaximumIsRejected) {
    ConfigYaml y;
    y.workers = "workers:\n  - {lcore: 1, queues: [{port: outer, queue: 64}]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: workers[0].queues[0].queue: must be in 0..63, got 64");
}

// Worker `lcore` polls queues first..last of port outer.
std::string worker_polling(uint32_t lcore, unsigned first, unsigned last) {
    std::string s = "  - lcore: " + std::to_string(lcore) + "\n    queues:\n";
    for (unsigned q = first; q <= last; ++q)
        s += "      - {port: outer, queue: " + std::to_string(q) + "}\n";
    return s;
}

TEST(GatewayConfig, AWorkerPollsAtMostTheDataPlaneLimitOfQueues) {
    static_assert(kMaxWorkerQueues == 16);
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 17, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2}
)";
    y.workers = "workers:\n" + worker_polling(1, 0, 15) +
                "  - {lcore: 2, queues: [{port: outer, queue: 16}, {port: inner, queue: 0}]}\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->workers[0].queues.size(), 16u);

    y.workers = "workers:\n" + worker_polling(1, 0, 16) +
                "  - {lcore: 2, queues: [{port: inner, queue: 0}]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: workers[0].queues: polls 17 queues; a worker polls at most 16 (spread them "
              "over more workers)");
}

// ---- ports -----------------------------------------------------------------------------------

TEST(GatewayConfig, PortDeviceMustBeADeclaredVdevOrPciAddress) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap7, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[1].device: net_tap7 is neither a vdev in eal.vdevs nor a PCI address "
              "in eal.pci");
}

TEST(GatewayConfig, PciDeviceMatchesWithOrWithoutItsDomain) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", pci: [\"0000:3B:00.0\", \"3b:00.1\"]}\n";
    y.ports = R"(ports:
  - {name: outer, role: outer, device: "3b:00.0", rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: "0000:3b:00.1", tx_queues: 2}
)";
    EXPECT_EQ(error_of(y), "OK");
}

TEST(GatewayConfig, TwoPortsOnOneDeviceAreRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap0, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[1].device: device net_tap0 is already used by ports[0]");
}

TEST(GatewayConfig, DuplicatePortNamesAreRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: outer, role: inner, device: net_tap1, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[1].name: duplicate port name outer (also ports[0])");
}

TEST(GatewayConfig, TwoOuterPortsAreRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: outer, device: net_tap1, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports: exactly one port must have role outer, found 2 (ports[0], "
              "ports[1])");
}

TEST(GatewayConfig, MissingOuterPortIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: inner, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports: exactly one port must have role outer, found 0");
}

TEST(GatewayConfig, AnInnerPortIsRequired) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports: exactly one port must have role inner, found 0");
}

// The data plane forwards to one inner port; a second must not pass --check-config and then
// stop the gateway after DPDK has started.
TEST(GatewayConfig, TwoInnerPortsAreRejected) {
    ConfigYaml y;
    y.eal =
        "eal: {lcores: \"0-2\", no_huge: true, no_pci: true, vdevs: [net_tap0, net_tap1, "
        "net_tap2]}\n";
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2}
  - {name: lab, role: inner, device: net_tap2, tx_queues: 2}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports: exactly one port must have role inner, found 2 (ports[1], ports[2])");
}

TEST(GatewayConfig, MoreWorkersThanTheDataPlaneRunsAreRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-17\", no_huge: true, no_pci: true, vdevs: [net_tap0, net_tap1]}\n";
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 17, tx_queues: 17}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 17}
)";
    y.workers =
        "workers:\n  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]}\n";
    for (int i = 1; i < 17; ++i)
        y.workers += "  - {lcore: " + std::to_string(i + 1) +
                     ", queues: [{port: outer, queue: " + std::to_string(i) + "}]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: workers: 17 workers; at most 16");
}

TEST(GatewayConfig, UnknownPortRoleIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: wan, device: net_tap0}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].role: expected outer or inner, got \"wan\"");
}

TEST(GatewayConfig, PortAddressWithBadPrefixLengthIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, ipv4: 192.0.2.1/33}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[0].ipv4: bad CIDR \"192.0.2.1/33\": prefix length must be 0..32");
}

TEST(GatewayConfig, PortAddressNeedsAPrefixLength) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, ipv4: 192.0.2.1}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[0].ipv4: bad CIDR \"192.0.2.1\": expected address/length");
}

TEST(GatewayConfig, Ipv6AddressInTheIpv4FieldIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, ipv4: "2001:db8::1/64"}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].ipv4: 2001:db8::1/64 is not an IPv4 address");
}

TEST(GatewayConfig, MtuOutsideItsRangeIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, mtu: 9600}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].mtu: must be in 576..9000, got 9600");
}

TEST(GatewayConfig, MoreThan64RxQueuesAreRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 65}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].rx_queues: must be in 1..64, got 65");
}

TEST(GatewayConfig, RssOffWithSeveralRxQueuesIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, rss: false}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[0].rss: false with 2 rx queues: only queue 0 would receive traffic");
}

TEST(GatewayConfig, NextHopIsOnlyForInnerPorts) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, next_hop: 192.0.2.254}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].next_hop: only inner ports have a next hop");
}

TEST(GatewayConfig, InnerNextHopIsParsed) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2, next_hop: 198.51.100.254}
)";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(c->ports[1].next_hop.has_value());
    EXPECT_EQ(c->ports[1].next_hop->to_string(), "198.51.100.254/32");
}

TEST(GatewayConfig, NextHopThatIsNotAnIpv4AddressIsRejected) {
    ConfigYaml y;
    for (const char *hop : {"2001:db8::1", "198.51.100.254/32", "router"}) {
        SCOPED_TRACE(hop);
        y.ports = std::string(R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2, next_hop: ")") +
                  hop + "\"}\n";
        EXPECT_EQ(error_of(y),
                  std::string("t.yaml: ports[1].next_hop: \"") + hop + "\" is not an IPv4 address");
    }
}

TEST(GatewayConfig, Ipv4AddressInTheIpv6FieldIsRejected) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, ipv6: 192.0.2.1/24}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].ipv6: 192.0.2.1/24 is not an IPv6 address");
}

TEST(GatewayConfig, NoPortsAtAllIsRejected) {
    ConfigYaml y;
    y.ports = "ports: []\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports: two ports are needed (one outer, one inner)");
}

TEST(GatewayConfig, SingleInnerPortHasNoOuterPort) {
    ConfigYaml y;
    y.ports = "ports:\n  - {name: inner, role: inner, device: net_tap1}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports: exactly one port must have role outer, found 0");
}

TEST(GatewayConfig, PortsMustBeAList) {
    ConfigYaml y;
    y.ports = "ports: {name: outer}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports: expected a list, got a mapping");
}

TEST(GatewayConfig, ZeroTxQueuesAndTooSmallMtuAreRejected) {
    ConfigYaml y;
    y.ports = "ports:\n  - {name: outer, role: outer, device: net_tap0, tx_queues: 0}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].tx_queues: must be in 1..64, got 0");
    y.ports = "ports:\n  - {name: outer, role: outer, device: net_tap0, mtu: 575}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].mtu: must be in 576..9000, got 575");
}

TEST(GatewayConfig, EmptyPortNameIsRejected) {
    ConfigYaml y;
    y.ports = "ports:\n  - {name: \"\", role: outer, device: net_tap0}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].name: must not be empty");
}

TEST(GatewayConfig, MalformedAndMulticastMacsAreRejected) {
    ConfigYaml y;
    y.ports = "ports:\n  - {name: outer, role: outer, device: net_tap0, mac: \"02:00:5e:10\"}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: ports[0].mac: expected \"auto\" or aa:bb:cc:dd:ee:ff, got \"02:00:5e:10\"");
    y.ports =
        "ports:\n  - {name: outer, role: outer, device: net_tap0, mac: \"01:00:5e:10:00:01\"}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].mac: 01:00:5e:10:00:01 is a multicast address");
}

// ---- EAL -------------------------------------------------------------------------------------

TEST(GatewayConfig, PciDevicesWithNoPciAreContradictory) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", no_pci: true, pci: [\"0000:3b:00.0\"]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.pci: PCI devices are listed but eal.no_pci is true");
}

TEST(GatewayConfig, MalformedPciAddressIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", pci: [\"3b:00\"]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.pci[0]: bad PCI address \"3b:00\" (expected DDDD:BB:DD.F)");
}

TEST(GatewayConfig, VdevDeclaredTwiceIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", vdevs: [\"net_tap0,iface=a\", \"net_tap0,iface=b\"]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.vdevs[1]: vdev net_tap0 is already declared by eal.vdevs[0]");
}

TEST(GatewayConfig, EmptyLcoreListIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: [], vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores: must name at least one lcore");
    y.eal = "eal: {lcores: \"\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores: must name at least one lcore");
}

TEST(GatewayConfig, LcoreBeyondTheDpdkMaximumIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-128\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.lcores: lcore 128 is beyond the last lcore DPDK supports (127)");
    y.eal = "eal: {lcores: [0, 1, 2, 4096], vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.lcores[3]: lcore 4096 is beyond the last lcore DPDK supports (127)");
    y.eal = "eal: {lcores: \"0-127\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "OK");
}

TEST(GatewayConfig, LcoreItemThatIsNotANumberIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2,x\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores: bad lcore list item \"x\" (expected N or N-M)");
    y.eal = "eal: {lcores: \"0,,1\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores: bad lcore list item \"\" (expected N or N-M)");
    y.eal = "eal: {lcores: [0, -1], vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.lcores[1]: bad lcore list item \"-1\" (expected N or N-M)");
}

TEST(GatewayConfig, VdevWithoutAnInstanceNameIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", vdevs: [net_tap0, \",iface=jg-inner\"]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.vdevs[1]: a vdev starts with its driver instance name "
              "(\"net_tap0,...\")");
}

TEST(GatewayConfig, PciDeviceListedTwiceIsRejectedWhateverItsSpelling) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", pci: [\"3b:00.0\", \"0000:3B:00.0\"]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.pci[1]: PCI device 0000:3b:00.0 is listed twice");
}

TEST(GatewayConfig, PciDeviceOrFunctionOutOfRangeIsRejected) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", pci: [\"0000:3b:20.0\"]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.pci[0]: bad PCI address \"0000:3b:20.0\" (expected DDDD:BB:DD.F)");
    y.eal = "eal: {lcores: \"0-2\", pci: [\"0000:3b:00.8\"]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.pci[0]: bad PCI address \"0000:3b:00.8\" (expected DDDD:BB:DD.F)");
}

TEST(GatewayConfig, MissingEalSectionAndZeroMemoryAreRejected) {
    ConfigYaml y;
    y.eal.clear();
    EXPECT_EQ(error_of(y), "t.yaml: eal: required key is missing");
    y.eal = "eal: {lcores: \"0-2\", memory_mb: 0, vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.memory_mb: must be >= 1, got 0");
}

TEST(GatewayConfig, EalThatIsNotAMappingIsRejected) {
    ConfigYaml y;
    y.eal = "eal: \"0-2\"\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal: expected a mapping, got the string \"0-2\"");
}

TEST(GatewayConfig, EalArgumentsFollowTheConfiguration) {
    ConfigYaml y;
    y.eal = R"(eal:
  lcores: "0-2"
  memory_mb: 256
  no_huge: true
  no_pci: true
  vdevs: ["net_tap0,iface=jg-outer", net_tap1]
  extra_args: [--file-prefix, jg-test]
)";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(
        eal_arguments(*c, "jumpgate"),
        (std::vector<std::string>{"jumpgate", "-l", "0-2", "--main-lcore", "0", "-m", "256",
                                  "--no-huge", "--no-pci", "--vdev", "net_tap0,iface=jg-outer",
                                  "--vdev", "net_tap1", "--file-prefix", "jg-test"}));
}

// ---- peers -----------------------------------------------------------------------------------

TEST(GatewayConfig, PeersLoadWithKeysAddressesAndPolicy) {
    auto c = test::parse(with_peers(std::string(R"(peers:
  - name: alice
    public_key: )") + kKeyA + R"(
    preshared_key_file: /etc/jumpgate/alice.psk
    allowed_ips: [10.0.0.2/32, "fd00::2", 10.1.0.0/16]
)"));
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->peers.size(), 1u);
    const auto &p = c->peers[0];
    EXPECT_EQ(p.name, "alice");
    EXPECT_EQ(encode_key(p.public_key), kKeyA);
    EXPECT_EQ(p.preshared_key_file, "/etc/jumpgate/alice.psk");
    ASSERT_EQ(p.allowed_ips.size(), 3u);
    EXPECT_EQ(p.allowed_ips[1].to_string(), "fd00::2/128");
    EXPECT_EQ(p.policy, "default");
}

TEST(GatewayConfig, EmptyPresharedKeyFileIsRejected) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", preshared_key_file: \"\"}\n")),
              "t.yaml: peers[0].preshared_key_file: must not be empty");
}

TEST(GatewayConfig, PeerWithoutAPublicKeyIsRejected) {
    EXPECT_EQ(error_of(with_peers("peers:\n  - {name: alice, allowed_ips: [10.0.0.2/32]}\n")),
              "t.yaml: peers[0].public_key: required key is missing");
}

TEST(GatewayConfig, UnknownPeerKeyIsRejectedWithASuggestion) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ip: [10.0.0.2/32]}\n")),
              "t.yaml: peers[0].allowed_ip: unknown key (did you mean \"allowed_ips\"?)");
}

TEST(GatewayConfig, AllowedIpWithHostBitsIsABadCidr) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [10.0.0.1/24]}\n")),
              "t.yaml: peers[0].allowed_ips[0]: bad CIDR \"10.0.0.1/24\": host bits are set (did "
              "you mean 10.0.0.0/24?)");
}

TEST(GatewayConfig, AllowedIpThatIsNotAnAddressIsABadCidr) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [10.0.0/8]}\n")),
              "t.yaml: peers[0].allowed_ips[0]: bad CIDR \"10.0.0/8\": not an IPv4 or IPv6 "
              "address");
}

// The route tables take prefixes from /1: a /0 would pass here and fail at every handshake.
TEST(GatewayConfig, AllowedIpDefaultRouteIsRejectedWithItsHalves) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [0.0.0.0/0]}\n")),
              "t.yaml: peers[0].allowed_ips[0]: 0.0.0.0/0: a /0 route to a peer is not "
              "supported; use its two halves (0.0.0.0/1 and 128.0.0.0/1)");
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [10.0.0.2/32, \"::/0\"]}\n")),
              "t.yaml: peers[0].allowed_ips[1]: ::/0: a /0 route to a peer is not supported; use "
              "its two halves (::/1 and 8000::/1)");
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [0.0.0.0/1, 128.0.0.0/1]}\n")),
              "OK");
}

TEST(GatewayConfig, DuplicatePeerKeysAreRejected) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {name: a, public_key: ") + kKeyA +
                                  "}\n  - {name: b, public_key: " + kKeyA + "}\n")),
              "t.yaml: peers[1].public_key: same public key as peers[0] (a)");
}

TEST(GatewayConfig, DuplicatePeerNamesAreRejected) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {name: a, public_key: ") + kKeyA +
                                  "}\n  - {name: a, public_key: " + kKeyB + "}\n")),
              "t.yaml: peers[1].name: duplicate peer name a (also peers[0])");
}

TEST(GatewayConfig, PeerPolicyProfileMustBeDefined) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", policy: roaming}\n")),
              "t.yaml: peers[0].policy: no policy profile named roaming (profiles: default)");
}

TEST(GatewayConfig, OverlappingAllowedIpsBetweenPeersAreRejected) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {name: a, public_key: ") + kKeyA +
                                  ", allowed_ips: [10.1.0.0/16]}\n  - {public_key: " + kKeyB +
                                  ", allowed_ips: [\"fd00::/64\", 10.0.0.0/8]}\n")),
              "t.yaml: peers[1].allowed_ips[1]: 10.0.0.0/8 overlaps 10.1.0.0/16 of peers[0] (a)");
}

TEST(GatewayConfig, SameIpv6PrefixOnTwoPeersIsRejected) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [\"fd00::/64\"]}\n  - {public_key: " + kKeyB +
                                  ", allowed_ips: [\"fd00::1\"]}\n")),
              "t.yaml: peers[1].allowed_ips[0]: fd00::1/128 overlaps fd00::/64 of peers[0]");
}

TEST(GatewayConfig, AdjacentPrefixesOfDifferentPeersDoNotOverlap) {
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [10.0.0.0/25, 10.0.1.0/24]}\n  - {public_key: " +
                                  kKeyB + ", allowed_ips: [10.0.0.128/25, \"0.0.0.0/1\"]}\n")),
              "t.yaml: peers[1].allowed_ips[1]: 0.0.0.0/1 overlaps 10.0.0.0/25 of peers[0]");
    EXPECT_EQ(error_of(with_peers(std::string("peers:\n  - {public_key: ") + kKeyA +
                                  ", allowed_ips: [10.0.0.0/25, 10.0.1.0/24]}\n  - {public_key: " +
                                  kKeyB + ", allowed_ips: [10.0.0.128/25, \"::/1\"]}\n")),
              "OK");
}

TEST(GatewayConfig, PublicKeyOfTheWrongLengthIsRejected) {
    EXPECT_EQ(error_of(with_peers("peers:\n  - {public_key: abcdefghijkl}\n")),
              "t.yaml: peers[0].public_key: not a WireGuard key: expected 44 characters of "
              "base64, got 12");
}

TEST(GatewayConfig, PublicKeyThatIsNotBase64IsRejected) {
    EXPECT_EQ(error_of(with_peers(
                  "peers:\n  - {public_key: \"vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXd!s=\"}\n")),
              "t.yaml: peers[0].public_key: not a WireGuard key: invalid base64 for 32 bytes");
}

// ---- types, unknown and missing keys ---------------------------------------------------------

TEST(GatewayConfig, StringWhereANumberIsExpectedIsRejected) {
    ConfigYaml y;
    y.rest = "listen_port: many\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: expected an integer, got \"many\"");
}

TEST(GatewayConfig, QuotedNumberIsAStringNotANumber) {
    ConfigYaml y;
    y.rest = "listen_port: \"51820\"\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: expected an integer, got the string \"51820\"");
}

TEST(GatewayConfig, NegativeNumbersAreRejected) {
    ConfigYaml y;
    y.rest = "limits: {handshake_rate_per_sec: -5}\n";
    EXPECT_EQ(error_of(y), "t.yaml: limits.handshake_rate_per_sec: must be >= 0, got -5");
}

TEST(GatewayConfig, ListWhereAScalarIsExpectedIsRejected) {
    ConfigYaml y;
    y.node_id = "node_id: [a, b]\n";
    EXPECT_EQ(error_of(y), "t.yaml: node_id: expected a string, got a list");
}

TEST(GatewayConfig, OnlyYaml12BooleansAreAccepted) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", no_huge: yes, vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_of(y), "t.yaml: eal.no_huge: expected true or false, got \"yes\"");
}

TEST(GatewayConfig, UnknownTopLevelKeyIsRejectedWithASuggestion) {
    ConfigYaml y;
    y.rest = "listen_prot: 51820\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_prot: unknown key (did you mean \"listen_port\"?)");
}

TEST(GatewayConfig, UnknownNestedKeyIsRejectedWithItsPath) {
    ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2, vlan: 7}
)";
    EXPECT_EQ(error_of(y), "t.yaml: ports[1].vlan: unknown key");
}

TEST(GatewayConfig, DuplicateYamlKeyIsRejected) {
    ConfigYaml y;
    y.rest = "listen_port: 1\nlisten_port: 2\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: duplicate key");
}

TEST(GatewayConfig, MissingNodeIdIsRejected) {
    ConfigYaml y;
    y.node_id.clear();
    EXPECT_EQ(error_of(y), "t.yaml: node_id: required key is missing");
}

TEST(GatewayConfig, MissingPortDeviceIsRejected) {
    ConfigYaml y;
    y.ports = "ports:\n  - {name: outer, role: outer}\n";
    EXPECT_EQ(error_of(y), "t.yaml: ports[0].device: required key is missing");
}

TEST(GatewayConfig, MissingWorkersAreRejected) {
    ConfigYaml y;
    y.workers.clear();
    EXPECT_EQ(error_of(y), "t.yaml: workers: required key is missing");
}

TEST(GatewayConfig, NodeIdMustBeAPlainLabel) {
    ConfigYaml y;
    y.node_id = "node_id: \"gw 1\"\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: node_id: use up to 64 letters, digits, '-', '_' or '.', got \"gw 1\"");
}

TEST(GatewayConfig, YamlSyntaxErrorNamesTheLine) {
    auto c = parse_gateway_config("node_id: gw-1\neal: {lcores: [0, 1\n", "t.yaml");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().where.rfind("t.yaml: line 3", 0), 0u) << c.error().message();
    EXPECT_EQ(c.error().what.rfind("YAML syntax error: ", 0), 0u) << c.error().message();
}

TEST(GatewayConfig, DocumentThatIsNotAMappingIsRejected) {
    EXPECT_EQ(parse_gateway_config("- a\n- b\n", "t.yaml").error().message(),
              "t.yaml: expected a mapping of settings at the top level");
    EXPECT_EQ(parse_gateway_config("", "t.yaml").error().message(),
              "t.yaml: expected a mapping of settings at the top level");
}

TEST(GatewayConfig, MissingFileIsNamed) {
    auto c = load_gateway_config("/nonexistent/jumpgate.yaml");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message(),
              "/nonexistent/jumpgate.yaml: cannot open: No such file or directory");
}

// A wrong path to a device or a FIFO is refused by name, without reading or waiting on it.
TEST(GatewayConfig, OnlyARegularFileIsRead) {
    auto dev = load_gateway_config("/dev/zero");
    ASSERT_FALSE(dev);
    EXPECT_EQ(dev.error().message(), "/dev/zero: is not a regular file");
    auto dir = load_gateway_config("/");
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message(), "/: is not a regular file");

    char fifo[] = "/tmp/jg-config-fifo-XXXXXX";
    ASSERT_NE(mkdtemp(fifo), nullptr);
    const std::string path = std::string(fifo) + "/config.yaml";
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    auto pipe = load_policy_file(path);  // no writer: a blocking open would never return
    ASSERT_FALSE(pipe);
    EXPECT_EQ(pipe.error().message(), path + ": is not a regular file");
    std::remove(path.c_str());
    rmdir(fifo);
}

// ---- private key source ----------------------------------------------------------------------

TEST(GatewayConfig, PrivateKeyMustBeConfigured) {
    ConfigYaml y;
    y.key.clear();
    EXPECT_EQ(error_of(y),
              "t.yaml: private_key_file: required key is missing (or set private_key: ephemeral "
              "to generate a key at start)");
}

TEST(GatewayConfig, InlinePrivateKeysAreRefused) {
    ConfigYaml y;
    y.key = std::string("private_key: ") + kKeyA + "\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: private_key: only \"ephemeral\" is accepted here; keep a real key in a "
              "file named by private_key_file");
}

TEST(GatewayConfig, PrivateKeyFileAndEphemeralAreExclusive) {
    ConfigYaml y;
    y.key = "private_key: ephemeral\nprivate_key_file: /etc/jumpgate/private.key\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: private_key: give either private_key_file or private_key: ephemeral, not "
              "both");
}

TEST(GatewayConfig, EmptyPrivateKeyFileIsRejected) {
    ConfigYaml y;
    y.key = "private_key_file: \"\"\n";
    EXPECT_EQ(error_of(y), "t.yaml: private_key_file: must not be empty");
}

TEST(GatewayConfig, PrivateKeyFileIsKeptAsAFileSource) {
    ConfigYaml y;
    y.key = "private_key_file: /etc/jumpgate/private.key\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->private_key.kind, PrivateKeySource::Kind::File);
    EXPECT_EQ(c->private_key.path, "/etc/jumpgate/private.key");
}

TEST(GatewayConfig, EphemeralPrivateKeyIsGeneratedFreshEachTime) {
    PrivateKeySource source;
    auto a = load_private_key(source);
    auto b = load_private_key(source);
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(*a == *b);
}

// ---- policies inside the gateway file --------------------------------------------------------

TEST(GatewayConfig, PolicyBoundsAreCheckedWithTheFullYamlPath) {
    ConfigYaml y;
    y.rest = R"(policies:
  fast:
    session: {max_lifetime_ms: 1000, transport_lost_ttl_ms: 500}
    volatility: {loss_volatile_threshold: 0.5, heartbeat_interval_ms: 100, heartbeat_volatile_ms: 100}
    switching: {max_switches_per_min: 4, recovery_window_ms: 100}
    security: {reattach_proof_max_age_ms: 100}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: policies.fast.volatility.heartbeat_volatile_ms: must be > "
              "volatility.heartbeat_interval_ms (100), got 100");
}

TEST(GatewayConfig, PolicyProfileMissingARequiredKeyIsRejected) {
    ConfigYaml y;
    y.rest = R"(policies:
  fast:
    session: {max_lifetime_ms: 1000, transport_lost_ttl_ms: 500}
    volatility: {loss_volatile_threshold: 0.5}
    switching: {max_switches_per_min: 4}
    security: {reattach_proof_max_age_ms: 100}
)";
    EXPECT_EQ(error_of(y),
              "t.yaml: policies.fast.switching.recovery_window_ms: required key is missing");
}

TEST(GatewayConfig, UnknownPolicyKeyIsRejectedWithItsPath) {
    ConfigYaml y;
    y.rest = R"(policies:
  fast:
    session: {max_lifetime_ms: 1000, transport_lost_ttl_ms: 500}
    volatility: {loss_volatile_threshold: 0.5, heartbeat_ms: 100}
    switching: {max_switches_per_min: 4, recovery_window_ms: 100}
    security: {reattach_proof_max_age_ms: 100}
)";
    EXPECT_EQ(error_of(y), "t.yaml: policies.fast.volatility.heartbeat_ms: unknown key");
}

TEST(GatewayConfig, PeerMayUseAProfileDefinedInTheFile) {
    ConfigYaml y;
    y.rest = std::string(R"(policies:
  fast:
    session: {max_lifetime_ms: 1000, transport_lost_ttl_ms: 500}
    volatility: {loss_volatile_threshold: 0.5}
    switching: {max_switches_per_min: 4, recovery_window_ms: 100}
    security: {reattach_proof_max_age_ms: 100}
peers:
  - {public_key: )") +
             kKeyA + ", policy: fast}\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->peers[0].policy, "fast");
    EXPECT_EQ(c->policies.find("fast")->session.max_lifetime_ms, 1000);
    EXPECT_NE(c->policies.find("default"), nullptr);
}

// ---- metrics, audit, limits ------------------------------------------------------------------

TEST(GatewayConfig, MetricsListenMustBeAddressAndPort) {
    ConfigYaml y;
    y.rest = "metrics: {listen: \"localhost\"}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: metrics.listen: expected address:port such as 127.0.0.1:9105 or "
              "[::1]:9105, got \"localhost\"");
}

TEST(GatewayConfig, MetricsPathMustBeAbsolute) {
    ConfigYaml y;
    y.rest = "metrics: {listen: \"[::1]:9105\", path: metrics}\n";
    EXPECT_EQ(error_of(y), "t.yaml: metrics.path: must start with '/', got \"metrics\"");
}

TEST(GatewayConfig, MetricsListenPortZeroIsRejected) {
    ConfigYaml y;
    y.rest = "metrics: {listen: \"127.0.0.1:0\"}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: metrics.listen: expected address:port such as 127.0.0.1:9105 or "
              "[::1]:9105, got \"127.0.0.1:0\"");
}

TEST(GatewayConfig, EmptyAuditPathIsRejected) {
    ConfigYaml y;
    y.rest = "audit: {path: \"\"}\n";
    EXPECT_EQ(error_of(y), "t.yaml: audit.path: must not be empty");
}

TEST(GatewayConfig, MaxSessionsOutsideItsRangeIsRejected) {
    ConfigYaml y;
    y.rest = "limits: {max_sessions: 0}\n";
    EXPECT_EQ(error_of(y), "t.yaml: limits.max_sessions: must be in 1..2097152, got 0");
    // The tables' limit, so --check-config refuses what start-up would.
    y.rest = "limits: {max_sessions: 2097153}\n";
    EXPECT_EQ(error_of(y), "t.yaml: limits.max_sessions: must be in 1..2097152, got 2097153");
    y.rest = "limits: {max_sessions: 2097152}\n";
    EXPECT_EQ(error_of(y), "OK");
}

TEST(GatewayConfig, ListenPortOutsideItsRangeIsRejected) {
    ConfigYaml y;
    y.rest = "listen_port: 0\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: must be in 1..65535, got 0");
    y.rest = "listen_port: 65536\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: must be in 1..65535, got 65536");
}

TEST(GatewayConfig, NodeIdLongerThan64CharactersIsRejected) {
    ConfigYaml y;
    y.node_id = "node_id: " + std::string(64, 'a') + "\n";
    EXPECT_EQ(error_of(y), "OK");
    y.node_id = "node_id: " + std::string(65, 'a') + "\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: node_id: use up to 64 letters, digits, '-', '_' or '.', got \"" +
                  std::string(65, 'a') + "\"");
}

TEST(GatewayConfig, AuditAndLimitsOverrideTheirDefaults) {
    ConfigYaml y;
    y.rest =
        "audit: {path: /tmp/a.jsonl, queue_capacity: 1024}\n"
        "limits: {max_sessions: 10, handshake_rate_per_sec: 0}\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->audit.path, "/tmp/a.jsonl");
    EXPECT_EQ(c->audit.queue_capacity, 1024u);
    EXPECT_EQ(c->limits.max_sessions, 10u);
    EXPECT_EQ(c->limits.handshake_rate_per_sec, 0u);
}

TEST(GatewayConfig, ReassemblyCanBeTurnedOffAndItsBoundsAreChecked) {
    ConfigYaml y;
    y.rest = "limits: {reassembly_datagrams: 0, reassembly_timeout_ms: 500}\n";
    auto c = test::parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->limits.reassembly_datagrams, 0u);
    EXPECT_EQ(c->limits.reassembly_timeout_ms, 500u);
    y.rest = "limits: {reassembly_datagrams: 65537}\n";
    EXPECT_EQ(error_of(y), "t.yaml: limits.reassembly_datagrams: must be in 0..65536, got 65537");
    y.rest = "limits: {reassembly_timeout_ms: 0}\n";
    EXPECT_EQ(error_of(y), "t.yaml: limits.reassembly_timeout_ms: must be in 1..60000, got 0");
}

TEST(GatewayConfig, AuditQueueCapacityMustBePositive) {
    ConfigYaml y;
    y.rest = "audit: {queue_capacity: 0}\n";
    EXPECT_EQ(error_of(y), "t.yaml: audit.queue_capacity: must be in 1..16777216, got 0");
}

// A control character or broken UTF-8 in a string is a typo an operator cannot see, and YAML
// (Unicode text) cannot write it back out: refused, naming the byte.
TEST(GatewayConfig, StringsWithControlCharactersOrBrokenUtf8AreRefused) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2\", vdevs: [net_tap0, net_tap1], extra_args: [\"\\r\"]}\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: eal.extra_args[0]: contains a control character (0x0d) at byte 0");
    y = ConfigYaml{};
    y.node_id = "node_id: \"gw\\t1\"\n";
    EXPECT_EQ(error_of(y), "t.yaml: node_id: contains a control character (0x09) at byte 2");
    y = ConfigYaml{};
    y.node_id = "node_id: \"gw\\x851\"\n";  // U+0085, a C1 control (NEL)
    EXPECT_EQ(error_of(y), "t.yaml: node_id: contains a control character (U+0085) at byte 2");
    y = ConfigYaml{};
    y.node_id = "node_id: gw\xc3\n";  // a lead byte with nothing after it
    EXPECT_EQ(error_of(y), "t.yaml: node_id: is not valid UTF-8 at byte 2");
    y = ConfigYaml{};
    y.node_id = "node_id: gw\xed\xa0\x80\n";  // an encoded surrogate
    EXPECT_EQ(error_of(y), "t.yaml: node_id: is not valid UTF-8 at byte 2");
    y = ConfigYaml{};
    y.rest = "audit: {path: \"/log\xef\xbf\xbe\"}\n";  // U+FFFE, a noncharacter
    EXPECT_EQ(error_of(y), "t.yaml: audit.path: contains a noncharacter (U+FFFE) at byte 4");
    y.rest = "audit: {path: \"\xef\xb7\x90\"}\n";  // U+FDD0
    EXPECT_EQ(error_of(y), "t.yaml: audit.path: contains a noncharacter (U+FDD0) at byte 0");
    y.rest = "audit: {path: \"\xf4\x8f\xbf\xbf\"}\n";  // U+10FFFF
    EXPECT_EQ(error_of(y), "t.yaml: audit.path: contains a noncharacter (U+10FFFF) at byte 0");
}

TEST(GatewayConfig, AScalarQuotedInAnErrorHasItsControlBytesEscaped) {
    ConfigYaml y;
    y.rest = "listen_port: \"\\e[31m\"\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: listen_port: expected an integer, got the string \"\\x1b[31m\"");
    // C1 controls (here CSI, U+009B, which terminals also obey) and bytes that are not
    // UTF-8 are escaped byte by byte; other text is quoted as it is.
    y.rest = "listen_port: \"\\x9b31m\"\n";
    EXPECT_EQ(error_of(y),
              "t.yaml: listen_port: expected an integer, got the string \"\\xc2\\x9b31m\"");
    y.rest =
        "listen_port: 8\xff"
        "0\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: expected an integer, got \"8\\xff0\"");
    y.rest = "listen_port: z\xc3\xbcrich\n";
    EXPECT_EQ(error_of(y), "t.yaml: listen_port: expected an integer, got \"z\xc3\xbcrich\"");
}

TEST(GatewayConfig, AKeyNamedInAnErrorHasItsControlBytesEscaped) {
    ConfigYaml y;
    y.rest = "\"\\e]0;x\\a\": 1\n";
    EXPECT_EQ(error_of(y), "t.yaml: \\x1b]0;x\\x07: unknown key");
}

TEST(GatewayConfig, AnIntegerTooLargeForAnyTypeIsOutOfRangeNotATypeError) {
    ConfigYaml y;
    y.rest = "listen_port: 99999999999999999999\n";
    EXPECT_EQ(
        error_of(y),
        "t.yaml: listen_port: is out of range (must be in 1..65535), got 99999999999999999999");
}

TEST(GatewayConfig, NonAsciiTextSurvivesRenderAndParse) {
    ConfigYaml y;
    y.rest = "audit: {path: \"/var/log/z\xc3\xbcrich \xe2\x80\xa8 \xf0\x9f\x9a\x80.jsonl\"}\n";
    auto c = parse(y);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->audit.path, "/var/log/z\xc3\xbcrich \xe2\x80\xa8 \xf0\x9f\x9a\x80.jsonl");
    auto again = parse_gateway_config(render_gateway_config(*c), "r.yaml");
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, *c);
}

}  // namespace
}  // namespace jg

namespace jg {
namespace {

TEST(GatewayConfig, MalformedDocumentsYieldAnErrorNeverAnException) {
    for (const char *text :
         {"{", "[", "node_id: [", "\t", "node_id: *nowhere", "? [a, b]\n: c\n",
          "node_id: !!binary x", "eal: &e {lcores: *e}", "ports: [[[[]]]]", "workers: {lcore: 1}",
          "peers: 7", "policies: [a]", "node_id: gw\neal: {lcores: \"\"}", "\xff\xfe"}) {
        SCOPED_TRACE(text);
        Result<GatewayConfig> c = Error{};
        EXPECT_NO_THROW(c = parse_gateway_config(text, "t.yaml"));
        EXPECT_FALSE(c);
        EXPECT_FALSE(c.error().message().empty());
    }
}

}  // namespace
}  // namespace jg
