// The shipped configurations load, and every configuration survives render -> load unchanged.
#include <gtest/gtest.h>

#include <string>

#include "config/gateway_config.hpp"
#include "config_test_yaml.hpp"

namespace jg {
namespace {

std::string deploy_path(const char *name) {
    return std::string(JG_DEPLOY_CONFIGS) + "/" + name;
}

void expect_round_trip(const GatewayConfig &c) {
    const std::string text = render_gateway_config(c);
    auto again = parse_gateway_config(text, "rendered.yaml");
    ASSERT_TRUE(again) << again.error().message() << "\n" << text;
    EXPECT_TRUE(*again == c) << text;
    EXPECT_EQ(render_gateway_config(*again), text);
}

TEST(DeployConfigs, DemoRunsOnTapDevicesWithoutHugepagesOrKeyFiles) {
    auto c = load_gateway_config(deploy_path("demo.yaml"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->node_id, "demo-1");
    EXPECT_TRUE(c->eal.no_huge);
    EXPECT_TRUE(c->eal.no_pci);
    EXPECT_EQ(c->eal.memory_mb, 256u);
    EXPECT_EQ(c->eal.vdevs,
              (std::vector<std::string>{"net_tap0,iface=jg-outer", "net_tap1,iface=jg-inner"}));
    EXPECT_EQ(c->control_lcore, 0u);
    ASSERT_EQ(c->workers.size(), 1u);
    EXPECT_EQ(c->workers[0].lcore, 1u);
    EXPECT_EQ(c->workers[0].queues.size(), 2u);
    EXPECT_EQ(c->outer_port().ipv4->to_string(), "192.0.2.1/24");
    EXPECT_EQ(c->find_port("inner")->ipv4->to_string(), "198.51.100.1/24");
    EXPECT_EQ(c->private_key.kind, PrivateKeySource::Kind::Ephemeral);
    EXPECT_TRUE(c->peers.empty());
    EXPECT_EQ(c->audit.path, "/tmp/jumpgate-audit.jsonl");
    EXPECT_EQ(c->metrics.listen, "127.0.0.1:9105");
    EXPECT_EQ(c->listen_port, 51820);
}

TEST(DeployConfigs, FourCoreExampleValidates) {
    auto c = load_gateway_config(deploy_path("example-4core.yaml"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->workers.size(), 3u);
    EXPECT_EQ(c->outer_port().rx_queues, 3);
    EXPECT_TRUE(c->outer_port().rss);
    EXPECT_EQ(c->private_key.kind, PrivateKeySource::Kind::File);
    EXPECT_EQ(c->peers.size(), 3u);
    EXPECT_EQ(c->policies.find("fixed-site")->transport.legacy_roaming, LegacyRoaming::Deny);
}

TEST(DeployConfigs, SixteenCoreExampleValidates) {
    auto c = load_gateway_config(deploy_path("example-16core.yaml"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->eal.lcores.size(), 16u);
    EXPECT_EQ(c->workers.size(), 15u);
    EXPECT_EQ(c->ports.size(), 2u);
    EXPECT_EQ(c->find_port("corp")->mtu, 9000u);
}

TEST(DeployConfigs, EveryShippedConfigRoundTripsThroughItsRendering) {
    for (const char *name : {"demo.yaml", "example-4core.yaml", "example-16core.yaml"}) {
        SCOPED_TRACE(name);
        auto c = load_gateway_config(deploy_path(name));
        ASSERT_TRUE(c) << c.error().message();
        expect_round_trip(*c);
    }
}

TEST(DeployConfigs, RenderingWritesOutEveryDefault) {
    auto c = parse_gateway_config(test::ConfigYaml{}.text(), "t.yaml");
    ASSERT_TRUE(c) << c.error().message();
    const std::string text = render_gateway_config(*c);
    for (const char *line :
         {"listen_port: 51820", "max_sessions: 65536", "handshake_rate_per_sec: 1000",
          "listen: 127.0.0.1:9105", "mtu: 1500", "mac: auto", "private_key: ephemeral",
          "max_lifetime_ms: 28800000", "legacy_roaming: allow"})
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
}

TEST(DeployConfigs, ConfigWithEveryOptionalFieldRoundTrips) {
    test::ConfigYaml y;
    y.ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2,
     ipv4: 192.0.2.1/24, ipv6: "2001:db8::1/64", mac: "02:AA:bb:cc:dd:ee", mtu: 1420}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2, next_hop: 198.51.100.254}
)";
    y.rest = std::string(R"(listen_port: 4500
peers:
  - name: alice
    public_key: )") +
             test::kKeyA + R"(
    preshared_key_file: /etc/jumpgate/alice.psk
    allowed_ips: [10.0.0.2/32, "fd00::/64"]
    policy: custom
  - public_key: )" +
             test::kKeyB + R"(
policies:
  custom:
    session: {max_lifetime_ms: 60000, transport_lost_ttl_ms: 5000}
    volatility: {loss_volatile_threshold: 0.333, latency_volatile_threshold_ms: 250}
    switching: {max_switches_per_min: 0, recovery_window_ms: 100, switch_improvement_factor: 2}
    security: {reattach_proof_max_age_ms: 100, replay_window_size: 16}
    transport: {legacy_roaming: deny}
metrics: {listen: "[::1]:9200", path: /m}
audit: {path: /tmp/x.jsonl, queue_capacity: 7}
limits: {max_sessions: 3, handshake_rate_per_sec: 0}
)";
    auto c = parse_gateway_config(y.text(), "t.yaml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->policies.find("custom")->switching.switch_improvement_factor, 2.0);
    expect_round_trip(*c);
}

}  // namespace
}  // namespace jg
