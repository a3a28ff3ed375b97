// Data-path abuse: a ControlCore and a real worker on net_ring ports, attacked through the
// outer and inner ports the way the Internet (or a hostile client) can: replays from many
// addresses, off-path hijack attempts, a switch storm by an authenticated client, malformed
// frames of every length, and mbuf pool exhaustion. Every test asserts what the gateway did
// (drop counters by reason, bindings, state versions, audit lines, mbufs in use).
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/control_clock.hpp"
#include "control/control_core.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/fragments.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/control_messages.hpp"
#include "proto/cookie.hpp"
#include "proto/messages.hpp"
#include "proto/noise.hpp"
#include "proto/transport.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_writer.hpp"

namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using jg::dp::DropReason;

constexpr uint16_t kListenPort = 51820;
constexpr unsigned kWorkerLcore = 1;
const rte_ether_addr kOuterMac{{0x02, 0, 0, 0, 0, 0x11}};
const rte_ether_addr kInnerMac{{0x02, 0, 0, 0, 0, 0x12}};
const rte_ether_addr kPeerMac{{0x02, 0xaa, 0, 0, 0, 0x1a}};  // the outer next hop
const rte_ether_addr kHostMac{{0x02, 0xcc, 0, 0, 0, 0x15}};
constexpr uint32_t kOuterIp = 0xc0000201;  // 192.0.2.1, host order
constexpr uint32_t kInnerIp = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kHostIp = 0x0a000005;   // 10.0.0.5, a host behind the gateway

// An outer UDP endpoint, host order.
struct Endpoint {
    uint32_t ip = 0;
    uint16_t port = 0;
    jg::TransportAddr addr() const { return jg::TransportAddr::v4(ip, port); }
};

// Ethernet + IPv4 + UDP (when `udp_ports` is set) around `payload`.
Bytes ipv4_frame(const rte_ether_addr &dst_mac, const rte_ether_addr &src_mac, uint32_t src_ip,
                 uint32_t dst_ip, std::optional<std::pair<uint16_t, uint16_t>> udp_ports,
                 const Bytes &payload, uint8_t proto = IPPROTO_UDP) {
    const size_t l4 = udp_ports ? sizeof(rte_udp_hdr) : 0;
    Bytes f(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + l4 + payload.size());
    auto *eth = reinterpret_cast<rte_ether_hdr *>(f.data());
    eth->dst_addr = dst_mac;
    eth->src_addr = src_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(uint16_t(f.size() - sizeof(rte_ether_hdr)));
    ip->time_to_live = 64;
    ip->next_proto_id = udp_ports ? uint8_t(IPPROTO_UDP) : proto;
    ip->src_addr = rte_cpu_to_be_32(src_ip);
    ip->dst_addr = rte_cpu_to_be_32(dst_ip);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t *body = reinterpret_cast<uint8_t *>(ip + 1);
    if (udp_ports) {
        auto *u = reinterpret_cast<rte_udp_hdr *>(body);
        u->src_port = rte_cpu_to_be_16(udp_ports->first);
        u->dst_port = rte_cpu_to_be_16(udp_ports->second);
        u->dgram_len = rte_cpu_to_be_16(uint16_t(l4 + payload.size()));
        body += l4;
    }
    std::copy(payload.begin(), payload.end(), body);
    return f;
}

// A WireGuard message from `from` to the gateway's listen port.
Bytes outer_frame(const Endpoint &from, const Bytes &wg) {
    return ipv4_frame(kOuterMac, kPeerMac, from.ip, kOuterIp, std::pair{from.port, kListenPort},
                      wg);
}

// The inner IP packet a tunnelled client sends (its tunnel address to the inside host).
Bytes tunnel_packet(uint32_t tunnel_ip, uint8_t fill) {
    Bytes f = ipv4_frame(kInnerMac, kHostMac, tunnel_ip, kHostIp, std::pair{uint16_t(1234), 80},
                         Bytes(24, fill));
    return Bytes(f.begin() + sizeof(rte_ether_hdr), f.end());
}

struct OuterOut {
    Endpoint to;
    Bytes payload;
};
OuterOut decode_outer(const Bytes &f) {
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(f.data() + sizeof(rte_ether_hdr));
    const auto *u = reinterpret_cast<const rte_udp_hdr *>(ip + 1);
    const auto *pl = reinterpret_cast<const uint8_t *>(u + 1);
    return {{rte_be_to_cpu_32(ip->dst_addr), rte_be_to_cpu_16(u->dst_port)},
            Bytes(pl, pl + rte_be_to_cpu_16(u->dgram_len) - sizeof(rte_udp_hdr))};
}

Bytes control_plaintext(const jg::proto::ControlMessage &m) {
    Bytes b(64);
    b.resize(jg::proto::encode_control(m, b));
    return b;
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

unsigned drain(rte_ring *ring) {
    unsigned n = 0;
    while (take_one(ring))
        ++n;
    return n;
}

uint64_t counter(const jg::dp::Counter &c) {
    return c.load(std::memory_order_relaxed);
}

// A WireGuard (and, after HELLO, jumpgate) client the test plays.
struct Client {
    explicit Client(uint32_t tunnel) : tunnel_ip(tunnel) {}
    jg::proto::StaticIdentity id = jg::proto::StaticIdentity::generate();
    uint32_t tunnel_ip;  // its allowed IP, host order
    Endpoint at;         // where it sends from now
    std::optional<jg::proto::TransportKeypair> kp;
    uint64_t next_counter = 0;

    Bytes seal(const Bytes &plain, uint64_t c) const {
        Bytes out(jg::proto::transport_message_size(plain.size()));
        jg::proto::seal_transport(kp->send_key, kp->remote_index, c, plain, out);
        return out;
    }
    Bytes seal_next(const Bytes &plain) { return seal(plain, next_counter++); }

    // A control message the gateway sealed to us, or nullopt for anything else.
    std::optional<jg::proto::ControlMessage> open_control(const Bytes &payload) const {
        const auto parsed = jg::proto::parse_transport(payload);
        if (!parsed.ok() || parsed.view.receiver_index() != kp->local_index)
            return std::nullopt;
        Bytes plain(parsed.view.padded_plaintext_size());
        if (!jg::proto::open_transport(kp->recv_key, parsed.view, plain).ok())
            return std::nullopt;
        const auto cls = jg::proto::classify_plaintext(plain);
        if (cls.kind != jg::proto::PlaintextKind::control)
            return std::nullopt;
        const auto dec = jg::proto::decode_control(std::span(plain).first(cls.length));
        if (!dec.ok())
            return std::nullopt;
        return dec.message;
    }
};

class AbuseDatapath : public ::testing::Test {
  protected:
    // Tests that need another policy or pool set these before calling start().
    jg::Policy policy;
    uint32_t pool_mbufs = 4095;
    // 0: no per-lcore cache, so an mbuf the test holds is one no lcore can take.
    unsigned pool_cache = 256;

    void start(unsigned n_peers = 1) {
        static int n = 0;  // DPDK object names are process-wide
        const std::string sfx = std::to_string(n++);
        pool = rte_pktmbuf_pool_create(("ad_pool" + sfx).c_str(), pool_mbufs, pool_cache,
                                       jg::dp::kMbufPrivSize, RTE_MBUF_DEFAULT_BUF_SIZE,
                                       SOCKET_ID_ANY);
        ASSERT_NE(pool, nullptr);
        make_port("ad_outer" + sfx, outer);
        make_port("ad_inner" + sfx, inner);

        jg::dp::TablesConfig tc;
        tc.name = "ad" + sfx;
        tc.max_sessions = 16;
        tc.n_workers = 1;
        tc.max_routes4 = 64;
        tc.max_routes6 = 64;
        tc.lpm6_tbl8s = 64;
        tc.max_neighbors = 64;
        auto t = jg::dp::create_tables(tc);
        ASSERT_TRUE(t.ok()) << t.error().message();
        tables = *t;
        have_tables = true;
        ASSERT_TRUE(jg::dp::learn_neighbor(tables, rte_cpu_to_be_32(kHostIp), kHostMac).ok());

        up[0] = rte_ring_create(("ad_up" + sfx).c_str(), 1024, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
        down[0] = rte_ring_create(("ad_down" + sfx).c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        handoff[0] =
            rte_ring_create(("ad_handoff" + sfx).c_str(), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
        ASSERT_TRUE(up[0] && down[0] && handoff[0]);

        gateway_key = jg::generate_private_key();
        gateway_public = jg::proto::x25519_public_key(gateway_key.bytes());
        for (unsigned i = 0; i < n_peers; ++i) {
            clients.push_back(std::make_unique<Client>(0x0a080002 + i));  // 10.8.0.2 + i
            clients.back()->at = {0xc6336407 + i, uint16_t(40000 + i)};   // 198.51.100.7 + i
        }

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
        w.tables = &tables;
        w.up = up[0];
        w.down = down[0];
        w.handoff = handoff;
        w.aead = aead.get();
        // Reassembly on, as in the gateway, with a short timeout so that fragments it holds
        // are given up (and counted) within a test's settling time.
        auto f = jg::dp::create_fragment_table(64, 20, SOCKET_ID_ANY);
        ASSERT_TRUE(f.ok()) << f.error().message();
        fragments = std::move(*f);
        w.fragments = fragments.get();
        w.outer.port_id = outer.port_id;
        w.outer.mac = kOuterMac;
        w.outer.ipv4 = rte_cpu_to_be_32(kOuterIp);
        w.inner.port_id = inner.port_id;
        w.inner.mac = kInnerMac;
        w.inner.ipv4 = rte_cpu_to_be_32(kInnerIp);
        w.inner.subnet4 = rte_cpu_to_be_32(kInnerIp & 0xffffff00);
        w.inner.subnet4_mask = rte_cpu_to_be_32(0xffffff00);
        w.listen_port = kListenPort;
        const jg::proto::Hash k = jg::proto::mac1_key_for(gateway_public);
        std::copy(k.begin(), k.end(), w.mac1_key.begin());

        jg::GatewayConfig config;
        config.node_id = "gw-abuse";
        for (size_t i = 0; i < clients.size(); ++i) {
            jg::PeerConfig peer;
            peer.name = "client" + std::to_string(i);
            peer.public_key = clients[i]->id.public_key();
            const uint32_t tip = clients[i]->tunnel_ip;
            const std::string prefix =
                std::to_string(tip >> 24) + "." + std::to_string((tip >> 16) & 0xff) + "." +
                std::to_string((tip >> 8) & 0xff) + "." + std::to_string(tip & 0xff) + "/32";
            peer.allowed_ips = {*jg::parse_ip_prefix(prefix, jg::PrefixForm::Network)};
            config.peers.push_back(peer);
        }
        auto set = jg::PolicySet::make({policy}, policy.name);
        ASSERT_TRUE(set.ok()) << set.error().message();
        config.policies = std::move(*set);
        sink = std::make_shared<jg::AuditMemorySink>();
        writer = std::make_unique<jg::AuditWriter>(sink, jg::AuditWriterOptions{});
        jg::control::ControlRings rings{up, down, pool, outer.port_id};
        auto c = jg::control::ControlCore::create(config, gateway_key, tables, rings, *writer);
        ASSERT_TRUE(c.ok()) << c.error().message();
        core = std::move(c).value();

        ASSERT_EQ(rte_eal_remote_launch(jg::dp::worker_loop, worker.get(), kWorkerLcore), 0);
        running = true;
    }

    void TearDown() override {
        if (running) {
            stop = true;
            EXPECT_EQ(rte_eal_wait_lcore(kWorkerLcore), 0);
        }
        fragments.reset();
        core.reset();
        if (writer)
            writer->close();
        for (Port *p : {&outer, &inner}) {
            if (p->rx[0] == nullptr)
                continue;
            drain(p->rx[0]);
            drain(p->tx[0]);
            jg::net::stop_port(p->port_id);
            rte_ring_free(p->rx[0]);
            rte_ring_free(p->tx[0]);
        }
        for (rte_ring *r : {up[0], down[0], handoff[0]}) {
            if (r == nullptr)
                continue;
            drain(r);
            rte_ring_free(r);
        }
        if (have_tables)
            jg::dp::destroy_tables(tables);
        // The ports are gone: nothing refers to the pool any more.
        if (pool != nullptr)
            rte_mempool_free(pool);
    }

    struct Port {
        rte_ring *rx[1]{};
        rte_ring *tx[1]{};
        uint16_t port_id = 0;
    };

    void make_port(const std::string &name, Port &p) {
        p.rx[0] = rte_ring_create((name + "_rx").c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        p.tx[0] = rte_ring_create((name + "_tx").c_str(), 4096, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        const int port = rte_eth_from_rings(name.c_str(), p.rx, 1, p.tx, 1, SOCKET_ID_ANY);
        ASSERT_GE(port, 0);
        char dev[RTE_ETH_NAME_MAX_LEN] = {};
        rte_eth_dev_get_name_by_port(uint16_t(port), dev);
        jg::net::PortSetup s;
        s.name = name;
        s.device = dev;
        auto st = jg::net::start_port(s, pool);
        ASSERT_TRUE(st.ok()) << st.error().message();
        p.port_id = st->port_id;
    }

    // Puts a frame on a port's RX ring, waiting (and running the control core) while the
    // ring is full. Counts what was handed over in `injected`.
    void inject(const Port &p, const Bytes &frame, rte_mempool *from = nullptr) {
        rte_mbuf *m = rte_pktmbuf_alloc(from != nullptr ? from : pool);
        ASSERT_NE(m, nullptr);
        if (!frame.empty())
            std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
        inject_mbuf(p, m);
    }
    void inject_mbuf(const Port &p, rte_mbuf *m) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (rte_ring_enqueue(p.rx[0], m) != 0) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the worker stopped reading";
            core->poll(jg::control::control_clock().now_ms());
            std::this_thread::sleep_for(50us);
        }
        ++injected;
    }

    uint64_t rx_packets() const {
        uint64_t n = 0;
        for (const auto &q : worker->queue_counters)
            n += counter(q.rx_packets);
        return n;
    }

    // Runs the control core until `cond` holds (or `limit` passes); ticks its timers too.
    bool pump_until(const std::function<bool()> &cond, std::chrono::milliseconds limit = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const int64_t now = jg::control::control_clock().now_ms();
            core->poll(now);
            core->tick(now);
            if (cond())
                return true;
            std::this_thread::sleep_for(200us);
        }
        return cond();
    }
    void pump_for(std::chrono::milliseconds d) {
        pump_until([] { return false; }, d);
    }
    // Every injected frame went through the worker and the up ring is empty.
    bool settle() {
        return pump_until([&] { return rx_packets() == injected && rte_ring_count(up[0]) == 0; });
    }

    std::optional<Bytes> pump_until_frame(rte_ring *ring, std::chrono::milliseconds limit = 5s) {
        std::optional<Bytes> f;
        pump_until([&] { return (f = take_one(ring)).has_value(); }, limit);
        return f;
    }

    // Handshake through the worker; then one data packet that confirms the keypair, and (for
    // a jumpgate client) HELLO, answered with HELLO_ACK.
    void establish(Client &c, bool jumpgate) {
        jg::proto::CookieJar jar(gateway_public);
        std::array<uint8_t, jg::proto::kInitiationSize> init{};
        const auto now_ns = uint64_t(jg::control::control_clock().now_ms()) * jg::proto::kNsPerMs;
        auto hs = jg::proto::InitiatorHandshake::create_initiation(
            c.id, gateway_public, jg::proto::Key{}, 0xc1000 + c.tunnel_ip, now_ns, now_ns, jar,
            init);
        ASSERT_TRUE(hs.ok());
        inject(outer, outer_frame(c.at, Bytes(init.begin(), init.end())));
        const auto resp = pump_until_frame(outer.tx[0]);
        ASSERT_TRUE(resp.has_value()) << "no handshake response";
        auto kp = hs->consume_response(decode_outer(*resp).payload, now_ns);
        ASSERT_TRUE(kp.ok()) << kp.error().message();
        c.kp = *kp;
        c.next_counter = 0;
        inject(outer, outer_frame(c.at, c.seal_next(tunnel_packet(c.tunnel_ip, 1))));
        ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value()) << "first packet not forwarded";
        if (!jumpgate)
            return;
        inject(outer, outer_frame(c.at, c.seal_next(control_plaintext(jg::proto::Hello{}))));
        const auto ack = pump_until_frame(outer.tx[0]);
        ASSERT_TRUE(ack.has_value()) << "no HELLO_ACK";
        const auto msg = c.open_control(decode_outer(*ack).payload);
        ASSERT_TRUE(msg && std::holds_alternative<jg::proto::HelloAck>(*msg));
    }

    jg::control::SessionSummary session_of(const Client &c) const {
        for (const auto &s : core->sessions_snapshot())
            if (s.peer_name == peer_name_of(c))
                return s;
        ADD_FAILURE() << "no session for " << peer_name_of(c);
        return {};
    }
    std::string peer_name_of(const Client &c) const {
        for (size_t i = 0; i < clients.size(); ++i)
            if (clients[i].get() == &c)
                return "client" + std::to_string(i);
        return "?";
    }
    const jg::dp::Binding *binding_of(const Client &c) const {
        return tables.sessions[session_of(c).slot].binding.load();
    }

    uint64_t drops(DropReason r) const { return counter(worker->counters.drops[unsigned(r)]); }
    std::map<std::string, uint64_t> drops_by_reason() const {
        std::map<std::string, uint64_t> out;
        for (unsigned r = 0; r < jg::dp::kDropReasonCount; ++r)
            if (const uint64_t n = drops(DropReason(r)))
                out[std::string(jg::dp::drop_reason_name(DropReason(r)))] = n;
        return out;
    }
    static std::string describe(const std::map<std::string, uint64_t> &m) {
        std::string s;
        for (const auto &[k, v] : m)
            s += k + "=" + std::to_string(v) + " ";
        return s;
    }

    // The audit lines written so far (the writer flushes every 20 ms).
    std::vector<std::string> audit_lines() {
        pump_for(60ms);
        return sink->lines();
    }
    static size_t count_type(const std::vector<std::string> &lines, const std::string &type) {
        const std::string needle = "\"event_type\":\"" + type + "\"";
        return size_t(std::count_if(lines.begin(), lines.end(), [&](const std::string &l) {
            return l.find(needle) != std::string::npos;
        }));
    }
    void expect_audit_check_passes() {
        std::stringstream log;
        for (const std::string &l : audit_lines())
            log << l << "\n";
        const jg::AuditCheckReport r =
            jg::audit_check(log, jg::AuditCheckLimits::from_policy(policy));
        EXPECT_TRUE(r.ok()) << r.violations.front().message << " (line "
                            << r.violations.front().line << ")";
    }

    rte_mempool *pool = nullptr;
    Port outer;
    Port inner;
    jg::dp::Tables tables;
    bool have_tables = false;
    rte_ring *up[1]{};
    rte_ring *down[1]{};
    rte_ring *handoff[1]{};
    jg::SecretKey gateway_key;
    jg::proto::Key gateway_public{};
    std::vector<std::unique_ptr<Client>> clients;
    std::unique_ptr<jg::crypto::IpsecMbAead> aead;
    std::unique_ptr<jg::dp::Worker> worker;
    jg::dp::FragmentTable fragments;
    std::atomic<bool> stop{false};
    bool running = false;
    std::shared_ptr<jg::AuditMemorySink> sink;
    std::unique_ptr<jg::AuditWriter> writer;
    std::unique_ptr<jg::control::ControlCore> core;
    uint64_t injected = 0;
};

// An attacker address: many distinct sources (203.0.113.0/24 and ports).
Endpoint attacker(unsigned i) {
    return {0xcb007100 + (i % 250) + 1, uint16_t(20000 + i)};
}

TEST_F(AbuseDatapath, ReplayedDataAndReattachFromManyAddressesAreDroppedWithoutMovingTheSession) {
    ASSERT_NO_FATAL_FAILURE(start());
    Client &c = *clients[0];
    ASSERT_NO_FATAL_FAILURE(establish(c, true));

    // What an eavesdropper captures: data packets and a REATTACH_REQUEST, all delivered once.
    std::vector<Bytes> captured;
    for (int i = 0; i < 8; ++i)
        captured.push_back(c.seal_next(tunnel_packet(c.tunnel_ip, uint8_t(10 + i))));
    jg::proto::ReattachRequest rr;
    rr.session_id = session_of(c).session_id;
    rr.reason = jg::proto::ReattachReason::path_lost;
    rr.client_time_ms = uint64_t(jg::control::control_clock().now_ms());
    rr.nonce = 0x5eed;
    captured.push_back(c.seal_next(control_plaintext(rr)));
    for (const Bytes &p : captured)
        inject(outer, outer_frame(c.at, p));
    ASSERT_TRUE(settle());
    pump_for(100ms);  // the REATTACH_RESULT for the original leaves through the worker
    EXPECT_EQ(drain(inner.tx[0]), 8u) << "the originals are delivered";
    EXPECT_EQ(drain(outer.tx[0]), 1u) << "one answer to the one original REATTACH_REQUEST";

    const auto before = session_of(c);
    const jg::dp::Binding *binding = binding_of(c);
    const size_t audit_before = audit_lines().size();
    const uint64_t replay_before =
        drops(DropReason::replay_duplicate) + drops(DropReason::replay_too_old);

    // The flood: every captured packet from 250 source addresses, four rounds.
    constexpr unsigned kSources = 250;
    constexpr unsigned kRounds = 4;
    for (unsigned round = 0; round < kRounds; ++round)
        for (unsigned i = 0; i < kSources; ++i)
            inject(outer,
                   outer_frame(attacker(i + round * kSources), captured[i % captured.size()]));
    ASSERT_TRUE(settle());
    pump_for(100ms);

    const uint64_t sent = uint64_t(kSources) * kRounds;
    EXPECT_EQ(
        drops(DropReason::replay_duplicate) + drops(DropReason::replay_too_old) - replay_before,
        sent)
        << describe(drops_by_reason());
    EXPECT_EQ(drain(inner.tx[0]), 0u) << "a replayed packet was delivered";
    EXPECT_EQ(drain(outer.tx[0]), 0u) << "the gateway answered a replay";
    const auto after = session_of(c);
    EXPECT_EQ(after.state, jg::SessionState::Attached);
    EXPECT_EQ(after.state_version, before.state_version);
    EXPECT_EQ(after.binding, before.binding);
    EXPECT_EQ(binding_of(c), binding) << "the published binding was replaced";
    EXPECT_EQ(after.counters.total_switches, 0u);
    EXPECT_EQ(after.counters.reattach_requests, before.counters.reattach_requests);

    // The log does not grow with the flood: a handful of lines at most, not one per packet.
    const auto lines = audit_lines();
    EXPECT_LE(lines.size() - audit_before, 4u);
    EXPECT_LE(count_type(lines, "SecurityEvent"), 4u);
    EXPECT_EQ(core->stats().audit_dropped, 0u);

    // The real client is unaffected.
    inject(outer, outer_frame(c.at, c.seal_next(tunnel_packet(c.tunnel_ip, 99))));
    EXPECT_TRUE(pump_until_frame(inner.tx[0]).has_value());
    expect_audit_check_passes();
}

TEST_F(AbuseDatapath, OffPathHijackAttemptsNeverMoveABinding) {
    ASSERT_NO_FATAL_FAILURE(start(2));
    Client &victim = *clients[0];
    Client &other = *clients[1];
    ASSERT_NO_FATAL_FAILURE(establish(victim, true));
    ASSERT_NO_FATAL_FAILURE(establish(other, true));
    drain(outer.tx[0]);
    const auto victim_before = session_of(victim);
    const auto other_before = session_of(other);
    const jg::dp::Binding *victim_binding = binding_of(victim);
    const uint64_t auth_before = drops(DropReason::auth_failed);

    // 1. Forged REATTACH_REQUESTs: the victim's receiver index (visible on the wire), fresh
    //    counters, random ciphertext and tag, from many addresses.
    std::mt19937_64 rng(7);
    constexpr unsigned kForged = 200;
    for (unsigned i = 0; i < kForged; ++i) {
        Bytes msg(jg::proto::transport_message_size(35));
        for (auto &b : msg)
            b = uint8_t(rng());
        msg[0] = 4;
        msg[1] = msg[2] = msg[3] = 0;
        jg::proto::store_le32(msg.data() + 4, victim.kp->remote_index);
        jg::proto::store_le64(msg.data() + 8, 1000 + i);
        inject(outer, outer_frame(attacker(i), msg));
    }
    ASSERT_TRUE(settle());
    EXPECT_EQ(drops(DropReason::auth_failed) - auth_before, kForged) << describe(drops_by_reason());

    // 2. The victim's packets re-sent from a spoofed address after the victim's own copy
    //    arrived: replays, dropped.
    const Bytes p1 = victim.seal_next(tunnel_packet(victim.tunnel_ip, 1));
    inject(outer, outer_frame(victim.at, p1));
    ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value());
    const uint64_t dup_before = drops(DropReason::replay_duplicate);
    for (unsigned i = 0; i < 50; ++i)
        inject(outer, outer_frame(attacker(300 + i), p1));
    ASSERT_TRUE(settle());
    EXPECT_EQ(drops(DropReason::replay_duplicate) - dup_before, 50u);

    // 3. A packet the gateway has not seen yet, raced from a spoofed address (an attacker who
    //    can copy packets but not read them): delivered, as WireGuard does, but the binding of
    //    a jumpgate client moves only after path validation, which the spoofer cannot answer.
    const Endpoint spoofed = attacker(400);
    inject(outer, outer_frame(spoofed, victim.seal_next(tunnel_packet(victim.tunnel_ip, 2))));
    ASSERT_TRUE(pump_until_frame(inner.tx[0]).has_value());
    //    (The victim itself hears a STATE_HINT: its session turned VOLATILE.)
    std::optional<OuterOut> challenge;
    ASSERT_TRUE(pump_until([&] {
        while (auto f = take_one(outer.tx[0])) {
            const OuterOut o = decode_outer(*f);
            const auto m = victim.open_control(o.payload);
            if (m && std::holds_alternative<jg::proto::PathChallenge>(*m))
                challenge = o;
        }
        return challenge.has_value();
    })) << "no PATH_CHALLENGE";
    EXPECT_EQ(challenge->to.ip, spoofed.ip);
    EXPECT_EQ(challenge->to.port, spoofed.port);
    //    The spoofer answers with what it can produce: a guess, sealed with nothing valid.
    Bytes guess(jg::proto::transport_message_size(9), 0x42);
    guess[0] = 4;
    guess[1] = guess[2] = guess[3] = 0;
    jg::proto::store_le32(guess.data() + 4, victim.kp->remote_index);
    jg::proto::store_le64(guess.data() + 8, 5000);
    inject(outer, outer_frame(spoofed, guess));
    ASSERT_TRUE(settle());
    pump_for(200ms);
    EXPECT_EQ(binding_of(victim), victim_binding) << "the binding moved without validation";
    EXPECT_EQ(session_of(victim).binding, victim_before.binding);
    EXPECT_EQ(session_of(victim).counters.total_switches, 0u);

    // 4. The other peer, authenticated, names the victim's session in a REATTACH_REQUEST and
    //    sends packets carrying the victim's receiver index under its own keys.
    jg::proto::ReattachRequest rr;
    rr.session_id = victim_before.session_id;
    rr.reason = jg::proto::ReattachReason::address_changed;
    rr.client_time_ms = uint64_t(jg::control::control_clock().now_ms());
    rr.nonce = 77;
    other.at = attacker(500);
    inject(outer, outer_frame(other.at, other.seal_next(control_plaintext(rr))));
    // (A counter far ahead of the victim's window: only the tag can refuse it.)
    Bytes cross = other.seal(tunnel_packet(other.tunnel_ip, 3), 1u << 20);
    jg::proto::store_le32(cross.data() + 4, victim.kp->remote_index);
    const uint64_t auth_mid = drops(DropReason::auth_failed);
    inject(outer, outer_frame(attacker(501), cross));
    ASSERT_TRUE(settle());
    pump_for(200ms);
    EXPECT_EQ(drops(DropReason::auth_failed) - auth_mid, 1u);
    EXPECT_EQ(binding_of(victim), victim_binding);
    EXPECT_EQ(session_of(victim).binding, victim_before.binding);
    EXPECT_EQ(session_of(victim).session_id, victim_before.session_id);
    EXPECT_EQ(session_of(other).binding, other_before.binding)
        << "a reattach naming another session moved the sender";
    EXPECT_EQ(session_of(other).counters.total_switches, 0u);

    // Zero hijacks: inside traffic for the victim still goes to the victim's real address.
    inject(inner, ipv4_frame(kInnerMac, kHostMac, kHostIp, victim.tunnel_ip,
                             std::pair{uint16_t(80), uint16_t(1234)}, Bytes(16, 7)));
    std::optional<Bytes> out;
    ASSERT_TRUE(pump_until([&] {
        while (auto f = take_one(outer.tx[0])) {
            const OuterOut o = decode_outer(*f);
            if (o.to.ip == victim.at.ip && !victim.open_control(o.payload)) {
                out = f;
                return true;
            }
            EXPECT_NE(o.to.ip, spoofed.ip) << "victim traffic left towards the spoofer";
        }
        return false;
    })) << "inside traffic never reached the victim";
    expect_audit_check_passes();
}

TEST_F(AbuseDatapath, SwitchStormByAnAuthenticatedClientIsBoundedByPolicy) {
    policy.name = "storm";
    policy.version = "storm-1";
    policy.switching.max_switches_per_min = 3;
    policy.switching.switch_cooldown_ms = 0;
    policy.switching.recovery_window_ms = 1500;
    // The storming client never sends from its binding again: that path goes silent, and the
    // contract's timers take the session to VOLATILE, then DEGRADED, within the storm.
    policy.volatility.heartbeat_interval_ms = 200;
    policy.volatility.heartbeat_volatile_ms = 800;
    policy.volatility.volatile_to_degraded_ms = 1000;
    ASSERT_NO_FATAL_FAILURE(start());
    Client &c = *clients[0];
    ASSERT_NO_FATAL_FAILURE(establish(c, true));
    drain(outer.tx[0]);
    const uint64_t session_id = session_of(c).session_id;

    // The storm: from a new address every round, REATTACH_REQUEST at once, and every
    // PATH_CHALLENGE answered from where it was sent.
    unsigned requests = 0;
    unsigned responses = 0;
    uint64_t nonce = 1;
    auto storm = [&](std::chrono::milliseconds how_long) {
        const auto end = std::chrono::steady_clock::now() + how_long;
        while (std::chrono::steady_clock::now() < end) {
            c.at = attacker(600 + requests);
            jg::proto::ReattachRequest rr;
            rr.session_id = session_id;
            rr.reason = jg::proto::ReattachReason::better_path;
            rr.client_time_ms = uint64_t(jg::control::control_clock().now_ms());
            rr.nonce = nonce++;
            inject(outer, outer_frame(c.at, c.seal_next(control_plaintext(rr))));
            ++requests;
            pump_until(
                [&] {
                    bool answered = false;
                    while (auto f = take_one(outer.tx[0])) {
                        const OuterOut o = decode_outer(*f);
                        const auto m = c.open_control(o.payload);
                        if (!m || !std::holds_alternative<jg::proto::PathChallenge>(*m))
                            continue;
                        jg::proto::PathResponse pr{std::get<jg::proto::PathChallenge>(*m).data};
                        inject(outer, outer_frame(o.to, c.seal_next(control_plaintext(pr))));
                        ++responses;
                        answered = true;
                    }
                    return answered;
                },
                20ms);
        }
    };
    storm(3s);
    // The path it left behind is silent: VOLATILE, then DEGRADED by the policy's timers.
    EXPECT_TRUE(pump_until([&] { return session_of(c).state == jg::SessionState::Degraded; }, 5s))
        << jg::state_name(session_of(c).state);
    // Storming on in DEGRADED, where REATTACH is allowed but the gate still refuses.
    storm(1s);
    ASSERT_TRUE(settle());
    pump_for(500ms);

    const auto s = session_of(c);
    const auto lines = audit_lines();
    EXPECT_GE(requests, 20u) << "the storm was too slow to test anything";
    EXPECT_GE(responses, 3u);
    EXPECT_EQ(s.counters.total_switches, policy.switching.max_switches_per_min)
        << "switches must stop at the policy's bound";
    EXPECT_EQ(count_type(lines, "TransportSwitch"), policy.switching.max_switches_per_min);
    EXPECT_GE(count_type(lines, "TransportSwitchDenied"), 1u) << "denials are audited";
    EXPECT_GE(s.counters.switches_denied, 1u);
    // Every request was either decided (and a denial audited) or, above kReattachPerSecond,
    // dropped unhandled under one reattach_flood SecurityEvent a second.
    const uint64_t flood = core->stats().reattach_flood;
    EXPECT_GE(s.counters.reattach_denied + s.counters.switches_denied + flood, requests / 2);
    if (flood != 0) {
        EXPECT_GE(count_type(lines, "SecurityEvent"), 1u) << "reattach_flood is audited";
    }
    EXPECT_EQ(s.state, jg::SessionState::Degraded) << jg::state_name(s.state);
    EXPECT_GE(s.counters.reattach_denied, 1u) << "REATTACH refused by the gate in DEGRADED";
    EXPECT_GE(count_type(lines, "PolicyEvent"), 1u) << "the deciding policy key is audited";
    EXPECT_EQ(count_type(lines, "SessionTerminated"), 0u);
    std::cout << "storm: " << requests << " requests, " << responses << " challenges answered, "
              << s.counters.total_switches << " switches, " << s.counters.switches_denied
              << " denied switches, " << s.counters.reattach_denied << " denied reattaches, "
              << flood << " over the REATTACH rate, final state " << jg::state_name(s.state) << ", "
              << lines.size() << " audit lines\n";
    expect_audit_check_passes();
}

// Every length 0..1600 three ways (random bytes; IPv4/UDP to the listen port with a random
// WireGuard payload; IPv4 from the inside to a tunnel address), then random bursts at the
// fastest rate the rings take: all dropped, each by a reason, and no mbuf kept.
TEST_F(AbuseDatapath, MalformedFramesOfEveryLengthAreAllCountedAsDropsAndLeakNoMbufs) {
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_TRUE(settle());
    const unsigned baseline = rte_mempool_in_use_count(pool);
    std::mt19937_64 rng(1600);
    auto random_bytes = [&](size_t n) {
        Bytes b(n);
        for (auto &x : b)
            x = uint8_t(rng());
        return b;
    };
    constexpr size_t kMaxLen = 1600;
    constexpr size_t kHeaders = 14 + 20 + 8;
    for (size_t len = 0; len <= kMaxLen; ++len) {
        inject(len % 2 ? outer : inner, random_bytes(len));
        if (len >= kHeaders) {
            // Types 1, 2 and 4 with zero reserved bytes reach the mac1 check and the index
            // lookup; other payloads stop at the message parser.
            Bytes wg = random_bytes(len - kHeaders);
            if (wg.size() >= 4) {
                const bool handshake_size = wg.size() == jg::proto::kInitiationSize ||
                                            wg.size() == jg::proto::kResponseSize;
                wg[0] = handshake_size ? (wg.size() == jg::proto::kInitiationSize ? 1 : 2)
                                       : uint8_t(len % 3 == 0 ? 4 : len % 5);
                if (len % 4 != 3)
                    wg[1] = wg[2] = wg[3] = 0;
            }
            inject(outer, outer_frame(attacker(unsigned(len)), wg));
        }
        if (len >= 14 + 20 + 16) {
            // Random datagrams to the listen port's address in two fragments that complete
            // each other (the whole is then parsed like any packet), and a third with a random
            // offset and flags that joins one or is given up at the timeout.
            const size_t body = len - 14 - 20;
            const size_t first = body / 2 & ~size_t(7);
            // Pairs and third fragments never share an identification, so every datagram
            // that completes is exactly one pair.
            const uint16_t id = uint16_t(0x8000 | len);
            auto frag = [&](size_t off, size_t n, bool more, uint16_t ident) {
                Bytes f = ipv4_frame(kOuterMac, kPeerMac, attacker(unsigned(len)).ip, kOuterIp,
                                     std::nullopt, random_bytes(n), IPPROTO_UDP);
                auto *ip = reinterpret_cast<rte_ipv4_hdr *>(f.data() + sizeof(rte_ether_hdr));
                ip->packet_id = rte_cpu_to_be_16(ident);
                ip->fragment_offset =
                    rte_cpu_to_be_16(uint16_t((off / 8) & RTE_IPV4_HDR_OFFSET_MASK) |
                                     (more ? RTE_IPV4_HDR_MF_FLAG : 0));
                ip->hdr_checksum = 0;
                ip->hdr_checksum = rte_ipv4_cksum(ip);
                return f;
            };
            inject(outer, frag(0, first, true, id));
            inject(outer, frag(first, body - first, false, id));
            inject(outer, frag(size_t(rng() % 8192) * 8, 8 + rng() % (body - 8), rng() % 2 != 0,
                               uint16_t(rng() % 4 == 0 ? 0x4000 | len : rng() % 0x4000)));
        }
        if (len >= 14 + 20) {
            Bytes payload = random_bytes(len - 14 - 20);
            inject(inner, ipv4_frame(kInnerMac, kHostMac, kHostIp, 0x0a080000 | (len & 0xff),
                                     std::nullopt, payload, uint8_t(rng())));
        }
        if (len % 64 == 0)
            core->poll(jg::control::control_clock().now_ms());
    }
    // Random frames in back-to-back bursts.
    const uint64_t fixed = injected;
    const auto burst_end = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < burst_end) {
        rte_mbuf *ms[32];
        ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool, ms, 32), 0);
        for (rte_mbuf *m : ms) {
            const Bytes b = random_bytes(1 + rng() % 1514);
            std::memcpy(rte_pktmbuf_append(m, uint16_t(b.size())), b.data(), b.size());
        }
        const unsigned n =
            rte_ring_enqueue_burst(outer.rx[0], reinterpret_cast<void **>(ms), 32, nullptr);
        injected += n;
        rte_pktmbuf_free_bulk(ms + n, 32 - n);
        core->poll(jg::control::control_clock().now_ms());
    }
    ASSERT_TRUE(settle()) << rx_packets() << " of " << injected << " frames received";
    pump_for(50ms);

    const auto by_reason = drops_by_reason();
    std::cout << "malformed: " << fixed << " fixed frames + " << injected - fixed
              << " random; drops " << describe(by_reason) << "\n";
    // A reassembled datagram is one packet made of two frames: its second fragment is neither
    // dropped nor forwarded.
    const uint64_t merged = counter(worker->counters.reassembled);
    EXPECT_GT(counter(worker->counters.reassembled), 0u) << "no random datagram was reassembled";
    EXPECT_EQ(jg::dp::total_drops(*worker) + merged, injected) << describe(by_reason);
    EXPECT_EQ(rx_packets(), injected);
    EXPECT_EQ(counter(worker->counters.local_replies), 0u);
    EXPECT_EQ(counter(worker->counters.decrypted), 0u);
    EXPECT_GE(by_reason.size(), 6u) << "the inputs reach several parsers";
    EXPECT_EQ(drain(outer.tx[0]), 0u);
    EXPECT_EQ(drain(inner.tx[0]), 0u);
    EXPECT_EQ(core->sessions_snapshot().size(), 0u);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline) << "mbufs leaked";
}

// The pool runs dry while traffic arrives: whatever needs a fresh mbuf (up events, the
// control core's replies) is dropped and counted; once the pool refills, nothing is lost
// for good and the gateway works again.
TEST_F(AbuseDatapath, PoolExhaustionDropsAreCountedAndNothingLeaks) {
    pool_mbufs = 511;
    pool_cache = 0;
    ASSERT_NO_FATAL_FAILURE(start(2));
    Client &c = *clients[0];
    ASSERT_NO_FATAL_FAILURE(establish(c, false));
    drain(outer.tx[0]);
    drain(inner.tx[0]);
    ASSERT_TRUE(settle());
    const unsigned baseline = rte_mempool_in_use_count(pool);

    // Frames prepared while the pool still has room: data from new source addresses (each
    // needs an up event), unknown inside neighbors (learning needs an event), a handshake
    // (the response needs a fresh mbuf).
    std::vector<rte_mbuf *> prepared;
    auto prepare = [&](const Bytes &f) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, uint16_t(f.size())), f.data(), f.size());
        prepared.push_back(m);
    };
    for (unsigned i = 0; i < 64; ++i)
        prepare(
            outer_frame(attacker(700 + i), c.seal_next(tunnel_packet(c.tunnel_ip, uint8_t(i)))));
    Client &late = *clients[1];
    jg::proto::CookieJar jar(gateway_public);
    std::array<uint8_t, jg::proto::kInitiationSize> init{};
    const auto now_ns = uint64_t(jg::control::control_clock().now_ms()) * jg::proto::kNsPerMs;
    auto hs = jg::proto::InitiatorHandshake::create_initiation(
        late.id, gateway_public, jg::proto::Key{}, 0x1a7e, now_ns, now_ns, jar, init);
    ASSERT_TRUE(hs.ok());
    prepare(outer_frame(late.at, Bytes(init.begin(), init.end())));

    // Hold every other mbuf of the pool.
    std::vector<rte_mbuf *> held;
    while (rte_mbuf *m = rte_pktmbuf_alloc(pool))
        held.push_back(m);
    ASSERT_GT(held.size(), 100u);
    const uint64_t event_drops_before = drops(DropReason::event_ring_full);
    const uint64_t lost_before = core->stats().frames_lost;
    for (rte_mbuf *m : prepared)
        ASSERT_NO_FATAL_FAILURE(inject_mbuf(outer, m));
    ASSERT_TRUE(settle());
    pump_for(100ms);

    // Decrypted and forwarded (the packets' own mbufs); the roaming reports had no mbuf;
    // the handshake was admitted but its response could not be built.
    EXPECT_EQ(drain(inner.tx[0]), 64u);
    EXPECT_GT(drops(DropReason::event_ring_full) - event_drops_before, 0u)
        << describe(drops_by_reason());
    EXPECT_GT(core->stats().frames_lost - lost_before, 0u);
    EXPECT_EQ(drain(outer.tx[0]), 0u);

    for (rte_mbuf *m : held)
        rte_pktmbuf_free(m);
    ASSERT_TRUE(settle());
    pump_for(50ms);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline) << "mbufs leaked under pressure";

    // The gateway works again: the late client's retried handshake completes.
    late.at.port = uint16_t(late.at.port + 1);  // a new source: not rate limited
    ASSERT_NO_FATAL_FAILURE(establish(late, false));
    EXPECT_EQ(core->sessions_snapshot().size(), 2u);
    drain(outer.tx[0]);
    drain(inner.tx[0]);
    ASSERT_TRUE(settle());
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
}

}  // namespace
