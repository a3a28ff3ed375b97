// The control core and a real worker together on net_ring ports: a WireGuard client's
// initiation enters the outer port, the worker sends it up, ControlCore answers down, the
// worker transmits the response; the client's first data packet is forwarded inside and
// confirms the keypair; a control message round-trips sealed under the session's keys; data
// left unanswered gets WireGuard's passive keepalive, and the peer's keepalives get none.
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/control_clock.hpp"
#include "control/control_core.hpp"
#include "control/passive_keepalive.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/control_messages.hpp"
#include "proto/cookie.hpp"
#include "proto/noise.hpp"
#include "proto/transport.hpp"
#include "telemetry/audit_writer.hpp"

namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t kListenPort = 51820;
constexpr uint16_t kClientPort = 40000;
constexpr unsigned kWorkerLcore = 1;
const rte_ether_addr kOuterMac{{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kInnerMac{{0x02, 0, 0, 0, 0, 0x02}};
const rte_ether_addr kClientMac{{0x02, 0xaa, 0, 0, 0, 0x0a}};
const rte_ether_addr kHostMac{{0x02, 0xcc, 0, 0, 0, 0x05}};
const uint8_t kOuterIp[4] = {192, 0, 2, 1};
const uint8_t kInnerIp[4] = {10, 0, 0, 1};
const uint8_t kClientIp[4] = {198, 51, 100, 7};
const uint8_t kTunnelIp[4] = {10, 8, 0, 2};  // the client's allowed IP
const uint8_t kHostIp[4] = {10, 0, 0, 5};    // a host behind the gateway

uint32_t be32(const uint8_t a[4]) {
    uint32_t v;
    std::memcpy(&v, a, 4);
    return v;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload) {
    Bytes b(8 + payload.size());
    auto *h = reinterpret_cast<rte_udp_hdr *>(b.data());
    h->src_port = rte_cpu_to_be_16(sport);
    h->dst_port = rte_cpu_to_be_16(dport);
    h->dgram_len = rte_cpu_to_be_16(uint16_t(b.size()));
    h->dgram_cksum = 0;
    std::memcpy(b.data() + 8, payload.data(), payload.size());
    return b;
}

Bytes ipv4(const uint8_t src[4], const uint8_t dst[4], const Bytes &l4) {
    Bytes b(20 + l4.size());
    auto *h = reinterpret_cast<rte_ipv4_hdr *>(b.data());
    h->version_ihl = RTE_IPV4_VHL_DEF;
    h->total_length = rte_cpu_to_be_16(uint16_t(b.size()));
    h->time_to_live = 64;
    h->next_proto_id = IPPROTO_UDP;
    std::memcpy(&h->src_addr, src, 4);
    std::memcpy(&h->dst_addr, dst, 4);
    h->hdr_checksum = rte_ipv4_cksum(h);
    std::memcpy(b.data() + 20, l4.data(), l4.size());
    return b;
}

Bytes ether(const rte_ether_addr &dst, const rte_ether_addr &src, const Bytes &l3) {
    Bytes b(14 + l3.size());
    auto *h = reinterpret_cast<rte_ether_hdr *>(b.data());
    h->dst_addr = dst;
    h->src_addr = src;
    h->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    std::memcpy(b.data() + 14, l3.data(), l3.size());
    return b;
}

Bytes outer_frame(const Bytes &wg, uint16_t client_port = kClientPort) {
    return ether(kOuterMac, kClientMac,
                 ipv4(kClientIp, kOuterIp, udp(client_port, kListenPort, wg)));
}

// The UDP payload of an outer IPv4 frame the gateway sent, with its destination.
struct OuterOut {
    Bytes dst_ip;
    uint16_t dst_port = 0;
    rte_ether_addr dst_mac{};
    Bytes payload;
};
OuterOut decode_outer(const Bytes &f) {
    OuterOut o;
    o.dst_mac = reinterpret_cast<const rte_ether_hdr *>(f.data())->dst_addr;
    const uint8_t *l3 = f.data() + 14;
    o.dst_ip.assign(l3 + 16, l3 + 20);
    const auto *u = reinterpret_cast<const rte_udp_hdr *>(l3 + 20);
    o.dst_port = rte_be_to_cpu_16(u->dst_port);
    const auto *pl = reinterpret_cast<const uint8_t *>(u + 1);
    o.payload.assign(pl, pl + rte_be_to_cpu_16(u->dgram_len) - 8);
    return o;
}

// `o` went to the client's original address through its next hop.
void expect_to_client(const OuterOut &o) {
    EXPECT_EQ(o.dst_ip, Bytes(kClientIp, kClientIp + 4));
    EXPECT_EQ(o.dst_port, kClientPort);
    EXPECT_EQ(0, std::memcmp(o.dst_mac.addr_bytes, kClientMac.addr_bytes, 6));
}

// The padded plaintext of a type-4 message sealed for the client, or nullopt if it does not
// parse or open under `kp`.
std::optional<Bytes> open_for_client(const jg::proto::TransportKeypair &kp, const Bytes &msg) {
    const auto parsed = jg::proto::parse_transport(msg);
    if (!parsed.ok())
        return std::nullopt;
    Bytes plain(parsed.view.padded_plaintext_size());
    if (!jg::proto::open_transport(kp.recv_key, parsed.view, plain).ok())
        return std::nullopt;
    return plain;
}

struct RingPort {
    rte_ring *rx[1]{};
    rte_ring *tx[1]{};
    uint16_t port_id = 0;
};

rte_mempool *pool() {
    static rte_mempool *mp = [] {
        auto r = jg::net::create_mbuf_pool("gc_pool", 8191, SOCKET_ID_ANY, jg::dp::kMbufPrivSize);
        return r ? *r : nullptr;
    }();
    return mp;
}

RingPort make_port(const std::string &name) {
    RingPort p;
    p.rx[0] =
        rte_ring_create((name + "_rx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx[0] =
        rte_ring_create((name + "_tx").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    const int port = rte_eth_from_rings(name.c_str(), p.rx, 1, p.tx, 1, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(uint16_t(port), dev);
    jg::net::PortSetup s;
    s.name = name;
    s.device = dev;
    auto st = jg::net::start_port(s, pool());
    EXPECT_TRUE(st.ok()) << st.error().message();
    p.port_id = st->port_id;
    return p;
}

void inject(rte_ring *ring, const Bytes &frame) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool());
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
    ASSERT_EQ(rte_ring_enqueue(ring, m), 0);
}

std::optional<Bytes> take_one(rte_ring *ring) {
    void *p = nullptr;
    if (rte_ring_dequeue(ring, &p) != 0)
        return std::nullopt;
    auto *m = static_cast<rte_mbuf *>(p);
    const auto *d = rte_pktmbuf_mtod(m, const uint8_t *);
    Bytes out(d, d + rte_pktmbuf_data_len(m));
    rte_pktmbuf_free(m);
    return out;
}

void drain(rte_ring *ring) {
    while (take_one(ring)) {
    }
}

class GatewayControl : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_NE(pool(), nullptr);
        static int n = 0;  // DPDK object names are process-wide
        const std::string sfx = std::to_string(n++);
        outer = make_port("gc_outer" + sfx);
        inner = make_port("gc_inner" + sfx);

        jg::dp::TablesConfig tc;
        tc.name = "gc" + sfx;
        tc.max_sessions = 16;
        tc.n_workers = 1;
        tc.max_routes4 = 64;
        tc.max_routes6 = 64;
        tc.lpm6_tbl8s = 64;
        tc.max_neighbors = 64;
        auto t = jg::dp::create_tables(tc);
        ASSERT_TRUE(t.ok()) << t.error().message();
        tables = *t;
        ASSERT_TRUE(jg::dp::learn_neighbor(tables, be32(kHostIp), kHostMac).ok());

        up[0] = rte_ring_create(("gc_up" + sfx).c_str(), 1024, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
        down[0] = rte_ring_create(("gc_down" + sfx).c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        handoff[0] =
            rte_ring_create(("gc_handoff" + sfx).c_str(), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
        ASSERT_NE(up[0], nullptr);
        ASSERT_NE(down[0], nullptr);
        ASSERT_NE(handoff[0], nullptr);

        gateway_key = jg::generate_private_key();
        gateway_public = jg::proto::x25519_public_key(gateway_key.bytes());
        client.emplace(jg::proto::StaticIdentity::generate());

        auto a = jg::crypto::IpsecMbAead::create();
        ASSERT_TRUE(a.ok()) << a.error().message();
        aead = std::make_unique<jg::crypto::IpsecMbAead>(std::move(*a));
        worker = std::make_unique<jg::dp::Worker>();
        jg::dp::Worker &w = *worker;
        w.config.lcore = kWorkerLcore;
        w.config.n_queues = 2;
        w.config.queues[0] = {outer.port_id, 0};
        w.config.queues[1] = {inner.port_id, 0};
        w.config.idle_sleep_us = 20;
        w.stop = &stop;
        w.index = 0;
        w.n_workers = 1;
        w.tables = &tables;
        w.up = up[0];
        w.down = down[0];
        w.handoff = handoff;
        w.aead = aead.get();
        w.outer.port_id = outer.port_id;
        w.outer.mac = kOuterMac;
        w.outer.ipv4 = be32(kOuterIp);
        w.inner.port_id = inner.port_id;
        w.inner.mac = kInnerMac;
        w.inner.ipv4 = be32(kInnerIp);
        w.inner.subnet4 = be32(kInnerIp) & rte_cpu_to_be_32(0xffffff00);
        w.inner.subnet4_mask = rte_cpu_to_be_32(0xffffff00);
        w.listen_port = kListenPort;
        const jg::proto::Hash k = jg::proto::mac1_key_for(gateway_public);
        std::copy(k.begin(), k.end(), w.mac1_key.begin());

        jg::PeerConfig peer;
        peer.name = "client";
        peer.public_key = client->public_key();
        peer.allowed_ips = {*jg::parse_ip_prefix("10.8.0.2/32", jg::PrefixForm::Network)};
        config.node_id = "gw-e2e";
        config.peers.push_back(peer);
        sink = std::make_shared<jg::AuditMemorySink>();
        writer = std::make_unique<jg::AuditWriter>(sink, jg::AuditWriterOptions{});
        jg::control::ControlRings rings{up, down, pool(), outer.port_id};
        auto c = jg::control::ControlCore::create(config, gateway_key, tables, rings, *writer);
        ASSERT_TRUE(c.ok()) << c.error().message();
        core = std::move(c).value();

        stop = false;
        ASSERT_EQ(rte_eal_remote_launch(jg::dp::worker_loop, worker.get(), kWorkerLcore), 0);
        running = true;
    }

    void TearDown() override {
        if (running) {
            stop = true;
            EXPECT_EQ(rte_eal_wait_lcore(kWorkerLcore), 0);
        }
        core.reset();
        writer->close();
        for (RingPort *p : {&outer, &inner}) {
            drain(p->rx[0]);
            drain(p->tx[0]);
            jg::net::stop_port(p->port_id);
            rte_ring_free(p->rx[0]);
            rte_ring_free(p->tx[0]);
        }
        for (rte_ring *r : {up[0], down[0], handoff[0]}) {
            drain(r);
            rte_ring_free(r);
        }
        jg::dp::destroy_tables(tables);
    }

    // Runs the control core (as the gateway's main lcore does) until a frame leaves `ring`.
    std::optional<Bytes> pump_until_frame(rte_ring *ring, std::chrono::milliseconds limit = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            core->poll(jg::control::control_clock().now_ms());
            if (auto f = take_one(ring))
                return f;
            std::this_thread::sleep_for(200us);
        }
        return std::nullopt;
    }

    bool pump_until(const std::function<bool()> &cond, std::chrono::milliseconds limit = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            core->poll(jg::control::control_clock().now_ms());
            if (cond())
                return true;
            std::this_thread::sleep_for(200us);
        }
        return cond();
    }

    // A stock client's handshake through the worker; its keypair, or nullopt.
    std::optional<jg::proto::TransportKeypair> connect() {
        jg::proto::CookieJar jar(gateway_public);
        std::array<uint8_t, jg::proto::kInitiationSize> init{};
        const uint64_t now_ns =
            uint64_t(jg::control::control_clock().now_ms()) * jg::proto::kNsPerMs;
        auto hs = jg::proto::InitiatorHandshake::create_initiation(
            *client, gateway_public, jg::proto::Key{}, 0xc11e, now_ns, now_ns, jar, init);
        if (!hs)
            return std::nullopt;
        inject(outer.rx[0], outer_frame(Bytes(init.begin(), init.end())));
        const auto response_frame = pump_until_frame(outer.tx[0]);
        if (!response_frame)
            return std::nullopt;
        auto kp = hs->consume_response(decode_outer(*response_frame).payload, now_ns);
        if (!kp)
            return std::nullopt;
        return *kp;
    }

    // The control loop's timer ticks (every 10 ms) from `from_ms` to `to_ms` of the control
    // clock, injected: seconds of gateway time in a few milliseconds of test.
    void tick_through(int64_t from_ms, int64_t to_ms) {
        for (int64_t t = from_ms; t <= to_ms; t += 10)
            core->tick(t);
    }

    Bytes sealed(const jg::proto::TransportKeypair &kp, uint64_t counter, const Bytes &plain) {
        Bytes out(jg::proto::transport_message_size(plain.size()));
        EXPECT_EQ(jg::proto::seal_transport(kp.send_key, kp.remote_index, counter, plain, out),
                  out.size());
        return out;
    }

    RingPort outer;
    RingPort inner;
    jg::dp::Tables tables;
    rte_ring *up[1]{};
    rte_ring *down[1]{};
    rte_ring *handoff[1]{};
    jg::SecretKey gateway_key;
    jg::proto::Key gateway_public{};
    std::optional<jg::proto::StaticIdentity> client;
    std::unique_ptr<jg::crypto::IpsecMbAead> aead;
    std::unique_ptr<jg::dp::Worker> worker;
    std::atomic<bool> stop{false};
    bool running = false;
    jg::GatewayConfig config;
    std::shared_ptr<jg::AuditMemorySink> sink;
    std::unique_ptr<jg::AuditWriter> writer;
    std::unique_ptr<jg::control::ControlCore> core;
};

TEST_F(GatewayControl, ClientHandshakesThroughTheWorkerAndItsFirstPacketReachesTheInside) {
    // 1. Initiation in, response out, both through the worker.
    jg::proto::CookieJar jar(gateway_public);
    std::array<uint8_t, jg::proto::kInitiationSize> init{};
    const int64_t now = jg::control::control_clock().now_ms();
    auto hs = jg::proto::InitiatorHandshake::create_initiation(
        *client, gateway_public, jg::proto::Key{}, 0xc11e, uint64_t(now) * jg::proto::kNsPerMs,
        uint64_t(now) * jg::proto::kNsPerMs, jar, init);
    ASSERT_TRUE(hs.ok());
    inject(outer.rx[0], outer_frame(Bytes(init.begin(), init.end())));
    const auto response_frame = pump_until_frame(outer.tx[0]);
    ASSERT_TRUE(response_frame.has_value()) << "no handshake response left the outer port";
    const OuterOut resp = decode_outer(*response_frame);
    expect_to_client(resp);
    ASSERT_EQ(resp.payload.size(), jg::proto::kResponseSize);
    auto kp = hs->consume_response(resp.payload, uint64_t(now) * jg::proto::kNsPerMs);
    ASSERT_TRUE(kp.ok()) << kp.error().message();
    ASSERT_EQ(core->sessions_snapshot().size(), 1u);

    // 2. The first data packet under the new keys: forwarded inside, and it confirms them.
    const Bytes inner_packet = ipv4(kTunnelIp, kHostIp, udp(1234, 80, Bytes(40, 0x5a)));
    inject(outer.rx[0], outer_frame(sealed(*kp, 0, inner_packet)));
    const auto forwarded = pump_until_frame(inner.tx[0]);
    ASSERT_TRUE(forwarded.has_value()) << "the decrypted packet never left the inner port";
    EXPECT_EQ(Bytes(forwarded->begin() + 14, forwarded->end()), inner_packet);
    const uint32_t slot = core->sessions_snapshot().at(0).slot;
    EXPECT_TRUE(pump_until([&] { return tables.sessions[slot].current.load() != nullptr; }))
        << "the keypair was never confirmed";
    EXPECT_EQ(tables.sessions[slot].next.load(), nullptr);

    // 3. HELLO inside the tunnel: HELLO_ACK comes back sealed under the session's keys.
    std::array<uint8_t, 16> hello{};
    const size_t n = jg::proto::encode_control(jg::proto::Hello{}, hello);
    inject(outer.rx[0], outer_frame(sealed(*kp, 1, Bytes(hello.begin(), hello.begin() + n))));
    const auto ack_frame = pump_until_frame(outer.tx[0]);
    ASSERT_TRUE(ack_frame.has_value()) << "no HELLO_ACK left the outer port";
    const auto opened = open_for_client(*kp, decode_outer(*ack_frame).payload);
    ASSERT_TRUE(opened.has_value());
    const Bytes &plain = *opened;
    const auto cls = jg::proto::classify_plaintext(plain);
    ASSERT_EQ(cls.kind, jg::proto::PlaintextKind::control);
    const auto dec = jg::proto::decode_control(std::span(plain).first(cls.length));
    ASSERT_TRUE(dec.ok());
    ASSERT_TRUE(std::holds_alternative<jg::proto::HelloAck>(dec.message));
    EXPECT_EQ(std::get<jg::proto::HelloAck>(dec.message).session_id,
              core->sessions_snapshot().at(0).session_id);
    EXPECT_TRUE(core->sessions_snapshot().at(0).jumpgate_client);
}

TEST_F(GatewayControl, StockClientRoamingMovesWhereTheInsideTrafficGoes) {
    const auto kp = connect();
    ASSERT_TRUE(kp.has_value()) << "no handshake";
    const Bytes up_packet = ipv4(kTunnelIp, kHostIp, udp(1234, 80, Bytes(8, 1)));
    inject(outer.rx[0], outer_frame(sealed(*kp, 0, up_packet)));
    ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value());

    // The client's NAT rebinds: same keys, new source port. The packet is delivered at once
    // and the binding follows through the policy gate.
    constexpr uint16_t kRebound = 41000;
    inject(outer.rx[0], outer_frame(sealed(*kp, 1, up_packet), kRebound));
    ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value());
    const uint32_t slot = core->sessions_snapshot().at(0).slot;
    ASSERT_TRUE(pump_until([&] {
        const jg::dp::Binding *b = tables.sessions[slot].binding.load();
        return b != nullptr && b->port == kRebound;
    })) << "the binding never moved";
    EXPECT_EQ(core->sessions_snapshot().at(0).binding.port, kRebound);

    // Traffic from the inside now goes to the new address.
    const Bytes down_packet = ipv4(kHostIp, kTunnelIp, udp(80, 1234, Bytes(8, 2)));
    Bytes inner_frame(14 + down_packet.size());
    auto *eth = reinterpret_cast<rte_ether_hdr *>(inner_frame.data());
    eth->dst_addr = kInnerMac;
    eth->src_addr = kHostMac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    std::memcpy(inner_frame.data() + 14, down_packet.data(), down_packet.size());
    inject(inner.rx[0], inner_frame);
    const auto out = pump_until_frame(outer.tx[0]);
    ASSERT_TRUE(out.has_value()) << "nothing left the outer port for the roamed client";
    const OuterOut o = decode_outer(*out);
    EXPECT_EQ(o.dst_port, kRebound);
    const auto plain = open_for_client(*kp, o.payload);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(Bytes(plain->begin(), plain->begin() + down_packet.size()), down_packet);
}

// Passive keepalive: the control core's clock is injected through tick(), so ten seconds of
// gateway silence take no ten seconds of test.
TEST_F(GatewayControl, UnansweredDataGetsOneEmptyTransportPacketAfterTheKeepaliveTimeout) {
    const auto kp = connect();
    ASSERT_TRUE(kp.has_value()) << "no handshake";
    const Bytes up_packet = ipv4(kTunnelIp, kHostIp, udp(1234, 80, Bytes(8, 1)));
    inject(outer.rx[0], outer_frame(sealed(*kp, 0, up_packet)));
    ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value());
    const uint32_t slot = core->sessions_snapshot().at(0).slot;
    ASSERT_TRUE(pump_until([&] { return tables.sessions[slot].current.load() != nullptr; }));

    constexpr int64_t kTimeout = jg::control::kKeepaliveTimeoutMs;
    const int64_t t =
        jg::control::control_clock().now_ms();  // the first tick samples the data packet
    tick_through(t, t + kTimeout - 1);
    EXPECT_FALSE(pump_until_frame(outer.tx[0], 100ms).has_value())
        << "a packet before KEEPALIVE_TIMEOUT";
    // Due at the timeout; sessions at rest may be swept a few ticks apart.
    tick_through(t + kTimeout, t + kTimeout + 100);
    const auto frame = pump_until_frame(outer.tx[0]);
    ASSERT_TRUE(frame.has_value()) << "no keepalive left the outer port";
    const OuterOut o = decode_outer(*frame);
    expect_to_client(o);
    ASSERT_EQ(o.payload.size(), jg::proto::kTransportMinSize);
    const auto parsed = jg::proto::parse_transport(o.payload);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.view.receiver_index(), kp->local_index);
    EXPECT_EQ(parsed.view.counter(), 0u) << "the session's first sealed packet";
    const auto plain = open_for_client(*kp, o.payload);
    ASSERT_TRUE(plain.has_value()) << "the keepalive does not open under the session's keys";
    EXPECT_EQ(plain->size(), 0u);
    EXPECT_EQ(jg::proto::classify_plaintext(*plain).kind, jg::proto::PlaintextKind::keepalive);

    // Sent is answered: more silence brings nothing more.
    tick_through(t + kTimeout + 110, t + 60'000);
    EXPECT_FALSE(pump_until_frame(outer.tx[0], 100ms).has_value()) << "a second keepalive";
    EXPECT_EQ(core->stats().keepalives_sent, 1u);
    EXPECT_EQ(core->sessions_snapshot().at(0).traffic.tx_packets, 1u);
}

TEST_F(GatewayControl, PeerKeepalivesGetNoKeepaliveBack) {
    const auto kp = connect();
    ASSERT_TRUE(kp.has_value()) << "no handshake";
    // What an idle wireguard-go sends: a keepalive confirming the keys, then its persistent
    // keepalives.
    const int64_t t = jg::control::control_clock().now_ms();
    for (uint64_t counter = 0; counter < 3; ++counter) {
        inject(outer.rx[0], outer_frame(sealed(*kp, counter, Bytes{})));
        ASSERT_TRUE(pump_until([&] { return worker->counters.keepalives.load() == counter + 1; }))
            << "keepalive " << counter << " never arrived";
        const int64_t base = t + int64_t(counter) * 25'000;
        tick_through(base, base + 20'000);
    }
    EXPECT_FALSE(pump_until_frame(outer.tx[0], 100ms).has_value())
        << "the gateway answered a keepalive";
    EXPECT_EQ(core->stats().keepalives_sent, 0u);
    EXPECT_EQ(core->sessions_snapshot().at(0).traffic.rx_packets, 3u);
}

}  // namespace
