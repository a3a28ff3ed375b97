#include "client/client_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/keys.hpp"

namespace jg::client {
namespace {

class ClientConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/jg-client-config.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        key_ = dir_ + "/client.key";
        ASSERT_TRUE(write_secret_key_file(key_, generate_private_key()));
        gw_pub_ = encode_key(derive_public_key(generate_private_key()));
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    ClientOptions valid() const {
        ClientOptions o;
        o.private_key_file = key_;
        o.gateway_public_key = gw_pub_;
        o.gateway_endpoint = "192.0.2.1:51820";
        o.tunnel_addresses = {"10.77.0.2/32"};
        o.paths = {"a=192.0.2.2", "b=192.0.2.3"};
        o.headless = true;
        o.app_socket = "127.0.0.1:7000";
        o.inner_destination = "198.51.100.2:7777";
        return o;
    }
    std::string write(const std::string &name, const std::string &text) const {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }
    static std::string error_of(const ClientOptions &o) {
        auto c = build_client_config(o);
        return c ? std::string("ok") : c.error().message();
    }

    std::string dir_;
    std::string key_;
    std::string gw_pub_;
};

TEST(PathSpec, ParsesAddressPortInterfaceAndEndpoint) {
    auto a = parse_path_spec("wifi=192.0.2.2");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->name, "wifi");
    ASSERT_TRUE(a->source);
    EXPECT_EQ(a->source->to_string(), "192.0.2.2:0");
    EXPECT_FALSE(a->endpoint);

    auto b = parse_path_spec("lte=192.0.2.3:41000@203.0.113.9:5000");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->source->to_string(), "192.0.2.3:41000");
    ASSERT_TRUE(b->endpoint);
    EXPECT_EQ(b->endpoint->to_string(), "203.0.113.9:5000");

    auto c = parse_path_spec("eth=eth0");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->device, "eth0");
    EXPECT_FALSE(c->source);
}

TEST(PathSpec, RejectsMalformedTextNamingIt) {
    for (const char *bad :
         {"nosep", "=192.0.2.2", "a=", "a=300.1.1.1", "a=192.0.2.2@nowhere",
          "a=192.0.2.2@192.0.2.1:0", "bad name=eth0", "a=eth0/1", "a=averyveryverylongifname"}) {
        auto r = parse_path_spec(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.error().where.find(bad), std::string::npos) << r.error().message();
        }
    }
}

TEST_F(ClientConfigTest, ValidOptionsBuildAConfigWithPathIdsInOrder) {
    auto c = build_client_config(valid());
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->paths.size(), 2u);
    EXPECT_EQ(c->paths[0].id, 1);
    EXPECT_EQ(c->paths[1].id, 2);
    EXPECT_EQ(c->tunnel_addresses.front(), 0x0a4d0002u);
    EXPECT_EQ(c->gateway_endpoint.to_string(), "192.0.2.1:51820");
    EXPECT_EQ(c->policy.volatility.heartbeat_interval_ms, 500);
    EXPECT_EQ(c->app_mode, AppMode::udp);
    EXPECT_EQ(c->inner_source_port, 40000);
    EXPECT_TRUE(c->identity.has_value());
}

TEST_F(ClientConfigTest, EachMissingOrBadValueIsNamed) {
    auto o = valid();
    o.private_key_file.clear();
    EXPECT_NE(error_of(o).find("--private-key"), std::string::npos);

    o = valid();
    o.private_key_file = dir_ + "/missing.key";
    EXPECT_NE(error_of(o).find("--private-key"), std::string::npos);

    o = valid();
    o.gateway_public_key = "not-a-key";
    EXPECT_NE(error_of(o).find("--gateway-public-key"), std::string::npos);

    o = valid();
    o.gateway_endpoint = "192.0.2.1";
    EXPECT_NE(error_of(o).find("--gateway"), std::string::npos);

    o = valid();
    o.tunnel_addresses = {"10.77.0.300"};
    EXPECT_NE(error_of(o).find("--tunnel-address"), std::string::npos);

    o = valid();
    o.paths.clear();
    EXPECT_NE(error_of(o).find("--path"), std::string::npos);

    o = valid();
    o.paths = {"a=192.0.2.2", "a=192.0.2.3"};
    EXPECT_NE(error_of(o).find("used twice"), std::string::npos);

    o = valid();
    o.paths = {"a=192.0.2.2:5000", "b=192.0.2.2:5000"};
    EXPECT_NE(error_of(o).find("used by another path"), std::string::npos);

    o = valid();
    o.paths = {"a=eth0", "b=eth1", "c=eth2", "d=eth3", "e=eth4",
               "f=eth5", "g=eth6", "h=eth7", "i=eth8"};
    EXPECT_NE(error_of(o).find("at most 8"), std::string::npos);

    o = valid();
    o.app_socket.clear();
    EXPECT_NE(error_of(o).find("--app-socket"), std::string::npos);

    o = valid();
    o.inner_destination.clear();
    EXPECT_NE(error_of(o).find("--inner-destination"), std::string::npos);

    o = valid();
    o.app_mode = "tcp";
    EXPECT_NE(error_of(o).find("--app-mode"), std::string::npos);

    o = valid();
    o.tun_name = "tun0";
    EXPECT_NE(error_of(o).find("exactly one"), std::string::npos);

    o = valid();
    o.headless = false;
    EXPECT_NE(error_of(o).find("exactly one"), std::string::npos);

    o = valid();
    o.inner_source_port = 70000;
    EXPECT_NE(error_of(o).find("--inner-source-port"), std::string::npos);

    o = valid();
    o.policy_profile = "roaming";
    EXPECT_NE(error_of(o).find("--policy-profile"), std::string::npos);
}

// TUN mode takes none of the headless app side's settings: each one given is named.
TEST_F(ClientConfigTest, HeadlessOnlyFlagsAreRefusedInTunMode) {
    auto tun = valid();
    tun.headless = false;
    tun.app_socket.clear();
    tun.inner_destination.clear();
    tun.tun_name = "jg0";
    ASSERT_EQ(error_of(tun), "ok") << "the TUN baseline is valid";
    auto o = tun;
    o.app_socket = "127.0.0.1:7000";
    EXPECT_EQ(error_of(o), "--app-socket: applies only with --headless, not with --tun");
    o = tun;
    o.app_mode = "bogus";
    EXPECT_EQ(error_of(o), "--app-mode: applies only with --headless, not with --tun");
    o = tun;
    o.inner_destination = "198.51.100.2:7777";
    EXPECT_EQ(error_of(o), "--inner-destination: applies only with --headless, not with --tun");
    o = tun;
    o.inner_source_port = 0;
    EXPECT_EQ(error_of(o), "--inner-source-port: applies only with --headless, not with --tun");
}

TEST_F(ClientConfigTest, NegativeTimeoutOrPortIsRefusedNotTakenAsUnset) {
    auto o = valid();
    o.handshake_timeout_ms = -5;
    EXPECT_EQ(error_of(o), "--handshake-timeout-ms: must be > 0, not -5");
    o.handshake_timeout_ms = 0;
    EXPECT_EQ(error_of(o), "--handshake-timeout-ms: must be > 0, not 0");

    o = valid();
    o.inner_source_port = -5;
    EXPECT_EQ(error_of(o), "--inner-source-port: must be 1..65535, not -5");

    o = valid();
    o.config_file = write("negative.yaml", "handshake_timeout_ms: -1\n");
    EXPECT_EQ(error_of(o), "--handshake-timeout-ms: must be > 0, not -1");
    o.config_file = write("port.yaml", "inner_source_port: -1\n");
    EXPECT_EQ(error_of(o), "--inner-source-port: must be 1..65535, not -1");

    // Given values are kept; a flag still wins over the file.
    o.config_file = write("given.yaml", "handshake_timeout_ms: 1500\ninner_source_port: 4000\n");
    o.inner_source_port = 5000;
    auto c = build_client_config(o);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->handshake_timeout_ms, 1500);
    EXPECT_EQ(c->inner_source_port, 5000);
}

TEST_F(ClientConfigTest, GatewayKeyMayComeFromAFile) {
    auto o = valid();
    o.gateway_public_key = write("gw.pub", gw_pub_ + "\n");
    auto c = build_client_config(o);
    ASSERT_TRUE(c) << c.error().message();
    const auto decoded = decode_public_key(gw_pub_);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(std::equal(decoded->begin(), decoded->end(), c->gateway_public.begin()));
}

TEST_F(ClientConfigTest, PolicyFileProfileIsUsedAndAnInvalidOneRefused) {
    const std::string good = write("p.yaml", R"(policies:
  fast:
    version: fast-1
    session: {max_lifetime_ms: 60000, transport_lost_ttl_ms: 5000}
    volatility: {heartbeat_interval_ms: 100, heartbeat_volatile_ms: 250,
                 loss_volatile_threshold: 0.1}
    switching: {max_switches_per_min: 4, recovery_window_ms: 3000}
    security: {reattach_proof_max_age_ms: 2000}
)");
    auto o = valid();
    o.policy_file = good;
    o.policy_profile = "fast";
    auto c = build_client_config(o);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->policy.volatility.heartbeat_interval_ms, 100);
    EXPECT_EQ(c->policy.switching.max_switches_per_min, 4u);
    EXPECT_EQ(c->policy.version, "fast-1");

    o.policy_profile = "missing";
    EXPECT_NE(error_of(o).find("'missing'"), std::string::npos);

    const std::string bad = write("bad.yaml", R"(policies:
  fast:
    session: {max_lifetime_ms: 60000, transport_lost_ttl_ms: 5000}
    volatility: {heartbeat_interval_ms: 5, loss_volatile_threshold: 0.1}
    switching: {max_switches_per_min: 4, recovery_window_ms: 3000}
    security: {reattach_proof_max_age_ms: 2000}
)");
    o.policy_file = bad;
    o.policy_profile = "fast";
    const std::string err = error_of(o);
    EXPECT_NE(err.find("--policy"), std::string::npos) << err;
    EXPECT_NE(err.find("heartbeat_interval_ms"), std::string::npos) << err;
}

TEST_F(ClientConfigTest, YamlFileFillsOptionsAndFlagsWin) {
    auto o = valid();
    o.paths.clear();
    o.gateway_endpoint.clear();
    o.config_file = write("client.yaml", R"(gateway_endpoint: 203.0.113.1:51820
paths: [wifi=192.0.2.2, lte=192.0.2.3]
node_id: laptop
)");
    auto c = build_client_config(o);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->gateway_endpoint.to_string(), "203.0.113.1:51820");
    ASSERT_EQ(c->paths.size(), 2u);
    EXPECT_EQ(c->paths[1].name, "lte");
    EXPECT_EQ(c->node_id, "laptop");

    o.gateway_endpoint = "192.0.2.1:51820";
    c = build_client_config(o);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->gateway_endpoint.to_string(), "192.0.2.1:51820");
}

TEST_F(ClientConfigTest, YamlUnknownKeyOrSyntaxErrorIsNamed) {
    auto o = valid();
    o.config_file = write("typo.yaml", "gatway_endpoint: 1.2.3.4:5\n");
    std::string err = error_of(o);
    EXPECT_NE(err.find("gatway_endpoint"), std::string::npos) << err;
    EXPECT_NE(err.find("unknown option"), std::string::npos) << err;

    o.config_file = write("syntax.yaml", "paths: [a=1.2.3.4\n");
    err = error_of(o);
    EXPECT_NE(err.find("syntax.yaml"), std::string::npos) << err;

    o.config_file = write("shape.yaml", "paths: a=1.2.3.4\n");
    err = error_of(o);
    EXPECT_NE(err.find("expected a list"), std::string::npos) << err;

    o.config_file = dir_ + "/absent.yaml";
    err = error_of(o);
    EXPECT_NE(err.find("--config"), std::string::npos) << err;
}

}  // namespace
}  // namespace jg::client
