// Handshake abuse against a ControlCore and a real worker on net_ring ports: an initiation
// flood (forged and replayed, from many spoofed sources) with a control-core stall, a full
// session table, and a replayed initiation. Each test asserts what the gateway did: cookie
// replies, a newcomer's handshake time, data still delivered, every flooded packet accounted
// for by a counter, refusal counters and audit lines, sessions left untouched.
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control/control_clock.hpp"
#include "control/control_core.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/cookie.hpp"
#include "proto/messages.hpp"
#include "proto/noise.hpp"
#include "proto/transport.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_json.hpp"
#include "telemetry/audit_writer.hpp"

namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;
using jg::dp::DropReason;

constexpr uint16_t kGatewayPort = 51820;
constexpr unsigned kWorkerLcore = 1;
constexpr unsigned kFloodLcore = 2;  // the other CPU: the flood competes with nobody's timing
const rte_ether_addr kGwOuterMac{{0x02, 0, 0, 0, 0x48, 0x01}};
const rte_ether_addr kGwInnerMac{{0x02, 0, 0, 0, 0x48, 0x02}};
const rte_ether_addr kUplinkMac{{0x02, 0xbb, 0, 0, 0x48, 0x03}};
const rte_ether_addr kServerMac{{0x02, 0xcc, 0, 0, 0x48, 0x04}};
constexpr uint32_t kGwOuterIp = 0xc0000221;  // 192.0.2.33, host order
constexpr uint32_t kGwInnerIp = 0x0a090001;  // 10.9.0.1
constexpr uint32_t kServerIp = 0x0a090009;   // 10.9.0.9, behind the gateway
constexpr int64_t kRekeyTimeoutMs = int64_t(jg::proto::kRekeyTimeoutNs / jg::proto::kNsPerMs);

uint64_t ns_now() {
    return uint64_t(jg::control::control_clock().now_ms()) * jg::proto::kNsPerMs;
}

// Writes IPv4 + UDP headers (addresses and ports host order) at `at`, before `payload`
// bytes that follow them.
void put_ipv4_udp(uint8_t *at, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                  size_t payload) {
    auto *ip4 = reinterpret_cast<rte_ipv4_hdr *>(at);
    ip4->version_ihl = RTE_IPV4_VHL_DEF;
    ip4->total_length =
        rte_cpu_to_be_16(uint16_t(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + payload));
    ip4->time_to_live = 61;
    ip4->next_proto_id = IPPROTO_UDP;
    ip4->src_addr = rte_cpu_to_be_32(src);
    ip4->dst_addr = rte_cpu_to_be_32(dst);
    ip4->hdr_checksum = rte_ipv4_cksum(ip4);
    auto *udp = reinterpret_cast<rte_udp_hdr *>(ip4 + 1);
    udp->src_port = rte_cpu_to_be_16(sport);
    udp->dst_port = rte_cpu_to_be_16(dport);
    udp->dgram_len = rte_cpu_to_be_16(uint16_t(sizeof(rte_udp_hdr) + payload));
}

// A UDP/IPv4 frame on the outer wire from `ip:port` to the gateway's listen port.
Bytes wire_frame(uint32_t ip, uint16_t port, const uint8_t *wg, size_t len) {
    constexpr size_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
    Bytes f(kHeaders + len);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(f.data());
    eth->dst_addr = kGwOuterMac;
    eth->src_addr = kUplinkMac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    put_ipv4_udp(f.data() + sizeof(rte_ether_hdr), ip, port, kGwOuterIp, kGatewayPort, len);
    std::memcpy(f.data() + kHeaders, wg, len);
    return f;
}

// The inner IPv4/UDP packet a client tunnels to the server (no Ethernet header).
Bytes inner_packet(uint32_t tunnel_ip, uint16_t seq) {
    constexpr size_t kPayload = 32;
    Bytes p(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + kPayload, uint8_t(seq));
    put_ipv4_udp(p.data(), tunnel_ip, seq, kServerIp, 9, kPayload);
    return p;
}

// Copies an mbuf's data out and frees it.
Bytes consume(rte_mbuf *m) {
    const auto *d = rte_pktmbuf_mtod(m, const uint8_t *);
    Bytes out(d, d + rte_pktmbuf_data_len(m));
    rte_pktmbuf_free(m);
    return out;
}

uint64_t load(const jg::dp::Counter &c) {
    return c.load(std::memory_order_relaxed);
}

// A WireGuard peer the test plays with lib/proto, as a stock client behaves.
struct Peer {
    Peer(uint32_t ip_, uint16_t port_, uint32_t tunnel) : ip(ip_), port(port_), tunnel_ip(tunnel) {}
    jg::proto::StaticIdentity id = jg::proto::StaticIdentity::generate();
    uint32_t ip;
    uint16_t port;
    uint32_t tunnel_ip;  // its allowed IP
    std::optional<jg::proto::CookieJar> jar;
    std::optional<jg::proto::InitiatorHandshake> pending;
    std::array<uint8_t, jg::proto::kInitiationSize> last_initiation{};
    std::optional<jg::proto::TransportKeypair> keys;
    uint64_t next_counter = 0;
    uint32_t attempts = 0;

    // Message 1 with a fresh timestamp; mac2 when the jar holds a fresh cookie.
    Bytes initiate(const jg::proto::Key &gateway) {
        if (!jar)
            jar.emplace(gateway);
        const uint64_t now = ns_now();
        auto hs = jg::proto::InitiatorHandshake::create_initiation(
            id, gateway, jg::proto::Key{}, 0x1d000000 + tunnel_ip + attempts, now, now, *jar,
            last_initiation);
        EXPECT_TRUE(hs.ok());
        pending.emplace(std::move(hs).value());
        ++attempts;
        return wire_frame(ip, port, last_initiation.data(), last_initiation.size());
    }
    Bytes data(uint16_t seq) {
        const Bytes plain = inner_packet(tunnel_ip, seq);
        Bytes wg(jg::proto::transport_message_size(plain.size()));
        jg::proto::seal_transport(keys->send_key, keys->remote_index, next_counter++, plain, wg);
        return wire_frame(ip, port, wg.data(), wg.size());
    }
};

// What left the gateway's ports, sorted by the pump.
struct Outputs {
    std::map<uint64_t, std::vector<Bytes>> responses;       // by destination ip:port
    std::map<uint64_t, std::vector<Bytes>> cookie_replies;  // by destination ip:port
    std::map<uint32_t, uint64_t> delivered;                 // inner packets by tunnel source
    uint64_t cookie_reply_frames = 0;
};
uint64_t endpoint_key(uint32_t ip, uint16_t port) {
    return uint64_t(ip) << 16 | port;
}

class AbuseHandshake : public ::testing::Test {
  protected:
    // Set before start().
    uint32_t max_sessions = 16;
    uint32_t cookie_threshold = 1000;  // limits.handshake_rate_per_sec

    void start(unsigned n_peers) {
        static int run = 0;
        const std::string tag = "ah" + std::to_string(run++);
        pool = rte_pktmbuf_pool_create((tag + "pool").c_str(), 16383, 256, jg::dp::kMbufPrivSize,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        ASSERT_NE(pool, nullptr);
        outer_port = open_port(tag + "out", outer_rx, outer_tx);
        inner_port = open_port(tag + "in", inner_rx, inner_tx);

        jg::dp::TablesConfig tc;
        tc.name = tag;
        tc.max_sessions = 16;
        tc.n_workers = 1;
        tc.max_routes4 = 32;
        tc.max_routes6 = 32;
        tc.lpm6_tbl8s = 32;
        tc.max_neighbors = 32;
        auto t = jg::dp::create_tables(tc);
        ASSERT_TRUE(t.ok()) << t.error().message();
        tables = *t;
        tables_made = true;
        ASSERT_TRUE(jg::dp::learn_neighbor(tables, rte_cpu_to_be_32(kServerIp), kServerMac).ok());
        up[0] = rte_ring_create((tag + "up").c_str(), 1024, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
        down[0] = rte_ring_create((tag + "down").c_str(), 1024, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        handoff[0] = rte_ring_create((tag + "ho").c_str(), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
        ASSERT_TRUE(up[0] != nullptr && down[0] != nullptr && handoff[0] != nullptr);

        gateway_key = jg::generate_private_key();
        gateway_public = jg::proto::x25519_public_key(gateway_key.bytes());
        jg::GatewayConfig config;
        config.node_id = "gw-hs-abuse";
        config.limits.max_sessions = max_sessions;
        config.limits.handshake_rate_per_sec = cookie_threshold;
        for (unsigned i = 0; i < n_peers; ++i) {
            // 198.51.100.20 + i; tunnel address 10.77.0.2 + i
            peers.push_back(
                std::make_unique<Peer>(0xc6336414 + i, uint16_t(41000 + i), 0x0a4d0002 + i));
            jg::PeerConfig pc;
            pc.name = "peer" + std::to_string(i);
            pc.public_key = peers.back()->id.public_key();
            const std::string prefix = "10.77.0." + std::to_string(2 + i) + "/32";
            pc.allowed_ips = {*jg::parse_ip_prefix(prefix, jg::PrefixForm::Network)};
            config.peers.push_back(pc);
        }
        sink = std::make_shared<jg::AuditMemorySink>();
        audit = std::make_unique<jg::AuditWriter>(sink, jg::AuditWriterOptions{});
        jg::control::ControlRings rings{up, down, pool, outer_port};
        auto c = jg::control::ControlCore::create(config, gateway_key, tables, rings, *audit);
        ASSERT_TRUE(c.ok()) << c.error().message();
        core = std::move(c).value();

        auto a = jg::crypto::IpsecMbAead::create();
        ASSERT_TRUE(a.ok()) << a.error().message();
        aead = std::make_unique<jg::crypto::IpsecMbAead>(std::move(*a));
        worker = std::make_unique<jg::dp::Worker>();
        jg::dp::Worker &w = *worker;
        w.config.lcore = kWorkerLcore;
        w.config.n_queues = 2;
        w.config.queues[0] = {outer_port, 0};
        w.config.queues[1] = {inner_port, 0};
        w.config.idle_sleep_us = 20;
        w.stop = &worker_stop;
        w.tables = &tables;
        w.up = up[0];
        w.down = down[0];
        w.handoff = handoff;
        w.aead = aead.get();
        w.outer.port_id = outer_port;
        w.outer.mac = kGwOuterMac;
        w.outer.ipv4 = rte_cpu_to_be_32(kGwOuterIp);
        w.inner.port_id = inner_port;
        w.inner.mac = kGwInnerMac;
        w.inner.ipv4 = rte_cpu_to_be_32(kGwInnerIp);
        w.inner.subnet4 = rte_cpu_to_be_32(kGwInnerIp & 0xffffff00);
        w.inner.subnet4_mask = rte_cpu_to_be_32(0xffffff00);
        w.listen_port = kGatewayPort;
        const jg::proto::Hash mac1 = jg::proto::mac1_key_for(gateway_public);
        std::copy(mac1.begin(), mac1.end(), w.mac1_key.begin());
        ASSERT_EQ(rte_eal_remote_launch(jg::dp::worker_loop, worker.get(), kWorkerLcore), 0);
        worker_running = true;
    }

    void TearDown() override {
        stop_flood();
        if (worker_running) {
            worker_stop = true;
            EXPECT_EQ(rte_eal_wait_lcore(kWorkerLcore), 0);
        }
        core.reset();
        if (audit)
            audit->close();
        for (auto [rx, tx, port] : {std::tuple{outer_rx, outer_tx, outer_port},
                                    std::tuple{inner_rx, inner_tx, inner_port}}) {
            if (rx[0] == nullptr)
                continue;
            free_all(rx[0]);
            free_all(tx[0]);
            jg::net::stop_port(port);
            rte_ring_free(rx[0]);
            rte_ring_free(tx[0]);
        }
        for (rte_ring *r : {up[0], down[0], handoff[0]}) {
            free_all(r);
            rte_ring_free(r);
        }
        if (tables_made)
            jg::dp::destroy_tables(tables);
        rte_mempool_free(pool);
    }

    static void free_all(rte_ring *r) {
        void *m = nullptr;
        while (r != nullptr && rte_ring_dequeue(r, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
    }

    // net_ring port; its RX ring takes two producers (the flood and the test's peers).
    uint16_t open_port(const std::string &name, rte_ring **rx, rte_ring **tx) {
        rx[0] = rte_ring_create((name + "rx").c_str(), 2048, SOCKET_ID_ANY, RING_F_SC_DEQ);
        tx[0] = rte_ring_create((name + "tx").c_str(), 4096, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
        EXPECT_TRUE(rx[0] != nullptr && tx[0] != nullptr);
        const int id = rte_eth_from_rings(name.c_str(), rx, 1, tx, 1, SOCKET_ID_ANY);
        EXPECT_GE(id, 0);
        char dev[RTE_ETH_NAME_MAX_LEN] = {};
        rte_eth_dev_get_name_by_port(uint16_t(id), dev);
        jg::net::PortSetup s;
        s.name = name;
        s.device = dev;
        auto st = jg::net::start_port(s, pool);
        EXPECT_TRUE(st.ok()) << st.error().message();
        return st ? st->port_id : 0;
    }

    // Hands a frame to the outer port; the flood leaves room for it (kPeerReserve), so a wait
    // here means the worker stopped draining the ring.
    void send(const Bytes &frame) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr) << "mbuf pool exhausted";
        std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
        const auto give_up = Clock::now() + 2s;
        while (rte_ring_mp_enqueue(outer_rx[0], m) != 0) {
            if (Clock::now() > give_up) {
                rte_pktmbuf_free(m);
                FAIL() << "the worker stopped reading the outer port";
            }
            pump_once();
        }
    }

    // One turn of the control lcore as the gateway runs it (poll, 10 ms timers), then what
    // the ports transmitted is sorted into `out`.
    void pump_once() {
        const int64_t now = jg::control::control_clock().now_ms();
        core->poll(now);
        if (now >= next_tick_ms) {
            core->tick(now);
            next_tick_ms = now + 10;
        }
        rte_mbuf *m[64];
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst(outer_tx[0], reinterpret_cast<void **>(m), 64,
                                              nullptr)) > 0) {
            for (unsigned i = 0; i < n; ++i)
                sort_outer(consume(m[i]));
        }
        while ((n = rte_ring_sc_dequeue_burst(inner_tx[0], reinterpret_cast<void **>(m), 64,
                                              nullptr)) > 0) {
            for (unsigned i = 0; i < n; ++i) {
                const Bytes f = consume(m[i]);
                const auto *ip4 = reinterpret_cast<const rte_ipv4_hdr *>(f.data() + 14);
                ++out.delivered[rte_be_to_cpu_32(ip4->src_addr)];
            }
        }
    }
    void sort_outer(const Bytes &f) {
        const auto *ip4 = reinterpret_cast<const rte_ipv4_hdr *>(f.data() + 14);
        const auto *udp = reinterpret_cast<const rte_udp_hdr *>(ip4 + 1);
        const auto *wg = reinterpret_cast<const uint8_t *>(udp + 1);
        const Bytes payload(wg, wg + rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr));
        const uint64_t to =
            endpoint_key(rte_be_to_cpu_32(ip4->dst_addr), rte_be_to_cpu_16(udp->dst_port));
        if (payload.size() == jg::proto::kResponseSize && payload[0] == 2)
            out.responses[to].push_back(payload);
        if (payload.size() == jg::proto::kCookieReplySize && payload[0] == 3) {
            ++out.cookie_reply_frames;
            auto &v = out.cookie_replies[to];
            if (v.size() < 4)  // the flood's thousands are only counted
                v.push_back(payload);
        }
    }

    bool pump_until(const std::function<bool()> &done, std::chrono::milliseconds limit) {
        const auto deadline = Clock::now() + limit;
        while (Clock::now() < deadline) {
            pump_once();
            if (done())
                return true;
            std::this_thread::sleep_for(100us);
        }
        return done();
    }

    // Initiation through the worker, the response, then one packet that confirms the keys.
    void establish(Peer &p) {
        send(p.initiate(gateway_public));
        const uint64_t at = endpoint_key(p.ip, p.port);
        ASSERT_TRUE(pump_until([&] { return !out.responses[at].empty(); }, 5s))
            << "no handshake response";
        auto kp = p.pending->consume_response(out.responses[at].back(), ns_now());
        ASSERT_TRUE(kp.ok()) << kp.error().message();
        p.keys = *kp;
        out.responses[at].clear();
        send(p.data(0));
        ASSERT_TRUE(pump_until([&] { return out.delivered[p.tunnel_ip] == 1; }, 5s))
            << "first packet not delivered";
        out.delivered[p.tunnel_ip] = 0;
    }

    // Sends `n` data packets and returns how many reached the inside.
    uint64_t forward(Peer &p, unsigned n) {
        const uint64_t before = out.delivered[p.tunnel_ip];
        for (unsigned i = 0; i < n; ++i)
            send(p.data(uint16_t(i)));
        pump_until([&] { return out.delivered[p.tunnel_ip] - before == n; }, 2s);
        return out.delivered[p.tunnel_ip] - before;
    }

    jg::control::SessionSummary session_of(const Peer &p) {
        for (const auto &s : core->sessions_snapshot())
            if (s.binding.port == p.port)
                return s;
        ADD_FAILURE() << "no session bound to port " << p.port;
        return {};
    }

    uint64_t drops(DropReason r) const { return load(worker->counters.drops[unsigned(r)]); }
    std::string drop_breakdown() const {
        std::string s;
        for (unsigned r = 0; r < jg::dp::kDropReasonCount; ++r)
            if (const uint64_t n = drops(DropReason(r)))
                s += std::string(jg::dp::drop_reason_name(DropReason(r))) + "=" +
                     std::to_string(n) + " ";
        return s;
    }
    uint64_t refused(jg::control::HandshakeRefusal r) const {
        return core->handshake_stats().refused[size_t(r)];
    }

    // Audit lines of `type` (the writer flushes every 20 ms).
    std::vector<jg::audit::Event> audit_events_of(const std::string &type) {
        pump_until([] { return false; }, 60ms);
        std::vector<jg::audit::Event> found;
        for (const std::string &line : sink->lines()) {
            auto parsed = jg::audit::parse_line(line);
            EXPECT_TRUE(parsed.ok()) << line;
            if (parsed && jg::audit::event_type_name(parsed->event.payload) == type)
                found.push_back(parsed->event);
        }
        return found;
    }
    void expect_audit_log_valid() {
        pump_until([] { return false; }, 60ms);
        std::string text;
        for (const std::string &line : sink->lines())
            text += line + "\n";
        std::istringstream in(text);
        const jg::AuditCheckReport r = jg::audit_check(in, {});
        EXPECT_TRUE(r.violations.empty()) << r.violations.front().message;
    }

    // ---- the flood generator, on its own lcore ----

    struct Flood {
        std::vector<Bytes> frames;  // cycled through
        uint64_t per_second = 0;    // 0: as fast as the generator goes
        rte_ring *rx = nullptr;
        rte_mempool *pool = nullptr;
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> sent{0};
    };
    // Ring slots the flood leaves to the test's peers. At full rate the flood refills every
    // slot the worker frees within nanoseconds, so without a reserve a peer's frame can lose
    // that race for seconds on a loaded machine (three threads on two CPUs under ASan): the
    // test would be measuring the wire, not the gateway. The flood still keeps the worker's
    // RX ring all but full.
    static constexpr unsigned kPeerReserve = 64;
    static constexpr unsigned kFloodBurst = 32;  // frames per enqueue
    static int flood_loop(void *arg) {
        auto &f = *static_cast<Flood *>(arg);
        rte_mbuf *m[kFloodBurst];
        size_t next = 0;
        const uint64_t gap = f.per_second != 0 ? rte_get_tsc_hz() * kFloodBurst / f.per_second : 0;
        uint64_t due = rte_rdtsc();
        while (!f.stop.load(std::memory_order_relaxed)) {
            if (rte_ring_free_count(f.rx) < kPeerReserve + kFloodBurst) {
                rte_pause();
                continue;
            }
            if (gap != 0) {
                const uint64_t now = rte_rdtsc();
                if (now < due)
                    continue;
                // Behind after a preemption: resume the pace, do not burst to catch up.
                due = now > due + 8 * gap ? now + gap : due + gap;
            }
            if (rte_pktmbuf_alloc_bulk(f.pool, m, kFloodBurst) != 0)
                continue;
            for (rte_mbuf *mb : m) {
                const Bytes &fr = f.frames[next++ % f.frames.size()];
                std::memcpy(rte_pktmbuf_append(mb, uint16_t(fr.size())), fr.data(), fr.size());
            }
            const unsigned n =
                rte_ring_mp_enqueue_burst(f.rx, reinterpret_cast<void **>(m), kFloodBurst, nullptr);
            if (n < kFloodBurst)  // only if the peers outgrew the reserve; never leak
                rte_pktmbuf_free_bulk(m + n, kFloodBurst - n);
            f.sent.fetch_add(n, std::memory_order_relaxed);
        }
        return 0;
    }
    void start_flood(const std::vector<Bytes> &frames, uint64_t per_second) {
        flood = std::make_unique<Flood>();
        flood->frames = frames;
        flood->per_second = per_second;
        flood->rx = outer_rx[0];
        flood->pool = pool;
        ASSERT_EQ(rte_eal_remote_launch(flood_loop, flood.get(), kFloodLcore), 0);
    }
    void stop_flood() {
        if (!flood || flood->stop)
            return;
        flood->stop = true;
        EXPECT_EQ(rte_eal_wait_lcore(kFloodLcore), 0);
    }

    rte_mempool *pool = nullptr;
    rte_ring *outer_rx[1]{};
    rte_ring *outer_tx[1]{};
    rte_ring *inner_rx[1]{};
    rte_ring *inner_tx[1]{};
    uint16_t outer_port = 0;
    uint16_t inner_port = 0;
    jg::dp::Tables tables{};
    bool tables_made = false;
    rte_ring *up[1]{};
    rte_ring *down[1]{};
    rte_ring *handoff[1]{};
    jg::SecretKey gateway_key;
    jg::proto::Key gateway_public{};
    std::vector<std::unique_ptr<Peer>> peers;
    std::shared_ptr<jg::AuditMemorySink> sink;
    std::unique_ptr<jg::AuditWriter> audit;
    std::unique_ptr<jg::control::ControlCore> core;
    std::unique_ptr<jg::crypto::IpsecMbAead> aead;
    std::unique_ptr<jg::dp::Worker> worker;
    std::atomic<bool> worker_stop{false};
    bool worker_running = false;
    std::unique_ptr<Flood> flood;
    Outputs out;
    int64_t next_tick_ms = 0;
};

TEST_F(AbuseHandshake, InitiationFloodEngagesCookiesYetANewcomerConnectsAndDataFlows) {
    cookie_threshold = 200;
    start(2);
    Peer &established = *peers[0];
    Peer &newcomer = *peers[1];
    ASSERT_NO_FATAL_FAILURE(establish(established));
    const auto session_before = session_of(established);

    // The flood: forged initiations (random bytes, so mac1 fails) and the established peer's
    // captured initiation replayed, from 2,000 spoofed sources so per-source limits see
    // little of it.
    std::mt19937 rng(7);
    std::vector<Bytes> frames;
    for (unsigned i = 0; i < 2000; ++i) {
        const uint32_t src = 0xcb000000 | (rng() & 0x00ffffff);  // 203.x.y.z
        const uint16_t port = uint16_t(1024 + rng() % 60000);
        if (i % 2 == 0) {
            std::array<uint8_t, jg::proto::kInitiationSize> junk{};
            for (auto &b : junk)
                b = uint8_t(rng());
            junk[0] = 1;
            junk[1] = junk[2] = junk[3] = 0;
            frames.push_back(wire_frame(src, port, junk.data(), junk.size()));
        } else {
            frames.push_back(wire_frame(src, port, established.last_initiation.data(),
                                        established.last_initiation.size()));
        }
    }
    const uint64_t outer_rx_before = load(worker->queue_counters[0].rx_packets);
    const uint64_t drops_before = jg::dp::total_drops(*worker);
    const uint64_t decrypted_before = load(worker->counters.decrypted);
    const uint64_t initiations_before = core->handshake_stats().initiations;
    // Phase 1, the generator's full rate (far above the worker's handshake budget) while the
    // control core stalls for 300 ms, as on a slow tick: the up ring must overflow, and
    // every message it cannot take is counted. Then a second of it with the control core
    // running while the established peer sends data.
    ASSERT_NO_FATAL_FAILURE(start_flood(frames, 0));
    std::this_thread::sleep_for(300ms);
    EXPECT_GT(drops(DropReason::event_ring_full), 0u)
        << "the up ring never overflowed: " << drop_breakdown();
    uint64_t data_sent = 0;
    const auto full_rate_until = Clock::now() + 1s;
    while (Clock::now() < full_rate_until) {
        send(established.data(uint16_t(data_sent++)));
        pump_until([] { return false; }, 5ms);
    }
    const uint64_t full_rate_frames = flood->sent.load();
    stop_flood();

    // Phase 2, a flood the worker's handshake budget passes whole (lib/dataplane checks the
    // budget before mac1, for all sources together, so above it a genuine initiation only
    // gets through by luck): 50 x the cookie threshold. The newcomer behaves as a stock
    // client: an initiation, then another every REKEY_TIMEOUT, carrying mac2 once a cookie
    // reply taught it a cookie. It gets three attempts: while the flood runs, one initiation
    // may still be lost to a full up ring (counted as event_ring_full), as a real client's
    // would be, and the client's next retry must then get in. The established peer keeps
    // sending data.
    constexpr uint64_t kPacedRate = 10'000;
    ASSERT_NO_FATAL_FAILURE(start_flood(frames, kPacedRate));
    const auto t0 = Clock::now();
    const uint64_t newcomer_at = endpoint_key(newcomer.ip, newcomer.port);
    send(newcomer.initiate(gateway_public));
    auto last_attempt = Clock::now();
    size_t cookies_used = 0;
    bool handshake_done = false;
    bool mac2_used = false;
    while (!handshake_done && Clock::now() - t0 < 3 * std::chrono::milliseconds(kRekeyTimeoutMs)) {
        send(established.data(uint16_t(data_sent++)));
        pump_until([] { return false; }, 5ms);
        auto &cookies = out.cookie_replies[newcomer_at];
        for (; cookies_used < cookies.size(); ++cookies_used)
            EXPECT_TRUE(newcomer.jar->consume_reply(cookies[cookies_used], ns_now()).ok());
        auto &responses = out.responses[newcomer_at];
        if (!responses.empty()) {
            auto kp = newcomer.pending->consume_response(responses.back(), ns_now());
            ASSERT_TRUE(kp.ok()) << kp.error().message();
            newcomer.keys = *kp;
            handshake_done = true;
        } else if (Clock::now() - last_attempt >= std::chrono::milliseconds(kRekeyTimeoutMs)) {
            mac2_used = newcomer.jar->has_fresh_cookie(ns_now());
            send(newcomer.initiate(gateway_public));
            last_attempt = Clock::now();
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const uint64_t paced_frames = flood->sent.load();
    stop_flood();
    ASSERT_TRUE(handshake_done) << "the newcomer got no response within 3 x REKEY_TIMEOUT; "
                                << newcomer.attempts << " attempts, "
                                << out.cookie_replies[newcomer_at].size()
                                << " cookie replies; drops: " << drop_breakdown();
    EXPECT_TRUE(mac2_used) << "the newcomer got in without a cookie while the flood ran";

    // Everything the flood and the peers put on the wire is accounted for.
    ASSERT_TRUE(pump_until(
        [&] {
            return rte_ring_count(outer_rx[0]) == 0 && rte_ring_count(up[0]) == 0 &&
                   rte_ring_count(down[0]) == 0;
        },
        5s));
    pump_until([] { return false; }, 50ms);
    const uint64_t outer_rx = load(worker->queue_counters[0].rx_packets) - outer_rx_before;
    const uint64_t dropped = jg::dp::total_drops(*worker) - drops_before;
    const uint64_t to_control = core->handshake_stats().initiations - initiations_before;
    const uint64_t decrypted = load(worker->counters.decrypted) - decrypted_before;
    EXPECT_EQ(outer_rx, dropped + to_control + decrypted)
        << "received " << outer_rx << ", dropped " << dropped << " (" << drop_breakdown()
        << "), to the control core " << to_control << ", decrypted " << decrypted;
    std::printf(
        "flood: %llu frames in 1.3 s at full rate, then %llu in %.2f s paced; outer rx "
        "%llu, to the control core %llu, cookie replies %llu, drops: %s; newcomer in "
        "after %.2f s\n",
        (unsigned long long)full_rate_frames, (unsigned long long)paced_frames, seconds,
        (unsigned long long)outer_rx, (unsigned long long)to_control,
        (unsigned long long)core->handshake_stats().cookie_replies, drop_breakdown().c_str(),
        seconds);
    EXPECT_GT(outer_rx, 10'000u) << "the flood was too weak to show anything";
    EXPECT_GT(drops(DropReason::bad_mac1), 0u);
    EXPECT_EQ(drops(DropReason::tx_full), 0u);

    // Cookie mode engaged: the control core answered with cookie replies, not X25519.
    const auto &hs = core->handshake_stats();
    EXPECT_GT(hs.cookie_replies, 100u);
    EXPECT_GT(out.cookie_reply_frames, 100u);
    EXPECT_EQ(hs.accepted, 2u) << "only the two genuine handshakes are accepted";
    // The audit log names the flood and the replays without a line per packet.
    const auto security = audit_events_of("SecurityEvent");
    EXPECT_FALSE(security.empty());
    EXPECT_LE(security.size(), 2 * size_t(seconds + 3)) << "SecurityEvents flood the audit log";

    // The established session forwarded all its data and was never disturbed.
    EXPECT_EQ(out.delivered[established.tunnel_ip], data_sent)
        << "data lost during the flood: " << drop_breakdown();
    const auto session_after = session_of(established);
    EXPECT_EQ(session_after.session_id, session_before.session_id);
    EXPECT_EQ(session_after.key_epoch, session_before.key_epoch);
    EXPECT_EQ(session_after.state, jg::SessionState::Attached);
    // And the newcomer's new session forwards too.
    EXPECT_EQ(forward(newcomer, 5), 5u);
    expect_audit_log_valid();
}

TEST_F(AbuseHandshake, FullSessionTableRefusesNewcomersCountedAndAuditedExistingForward) {
    max_sessions = 2;
    start(3);
    ASSERT_NO_FATAL_FAILURE(establish(*peers[0]));
    ASSERT_NO_FATAL_FAILURE(establish(*peers[1]));
    Peer &late = *peers[2];

    send(late.initiate(gateway_public));
    const uint64_t late_at = endpoint_key(late.ip, late.port);
    pump_until([&] { return refused(jg::control::HandshakeRefusal::session_table_full) > 0; }, 3s);
    pump_until([] { return false; }, 200ms);
    EXPECT_TRUE(out.responses[late_at].empty()) << "a refused handshake was answered";
    EXPECT_EQ(refused(jg::control::HandshakeRefusal::session_table_full), 1u);
    EXPECT_EQ(core->stats().slots_exhausted, 1u);
    EXPECT_EQ(core->handshake_stats().accepted, 2u);
    EXPECT_EQ(core->sessions_snapshot().size(), 2u);

    const auto limits = audit_events_of("PolicyEvent");
    ASSERT_EQ(limits.size(), 1u);
    const auto &pe = std::get<jg::audit::PolicyEvent>(limits[0].payload);
    EXPECT_EQ(pe.policy_name, "limits.max_sessions");
    EXPECT_EQ(pe.threshold_value, 2.0);
    EXPECT_EQ(pe.observed_value, 2.0);

    // The sessions that exist keep forwarding, both of them.
    EXPECT_EQ(forward(*peers[0], 20), 20u);
    EXPECT_EQ(forward(*peers[1], 20), 20u);
    expect_audit_log_valid();
}

TEST_F(AbuseHandshake, ReplayedInitiationIsRejectedAndTheSessionCarriesOn) {
    start(1);
    Peer &p = *peers[0];
    ASSERT_NO_FATAL_FAILURE(establish(p));
    const auto before = session_of(p);
    const jg::dp::Keypair *keys_before = tables.sessions[before.slot].current.load();
    ASSERT_NE(keys_before, nullptr);
    const uint64_t at = endpoint_key(p.ip, p.port);
    const size_t responses_before = out.responses[at].size();

    // The same initiation (same TAI64N) again: from the peer's address, then from another.
    const auto &replay = p.last_initiation;
    send(wire_frame(p.ip, p.port, replay.data(), replay.size()));
    send(wire_frame(0xcb007177, 33333, replay.data(), replay.size()));
    ASSERT_TRUE(pump_until(
        [&] { return refused(jg::control::HandshakeRefusal::replayed_timestamp) == 2; }, 3s))
        << "replays not refused as replayed_timestamp";
    pump_until([] { return false; }, 100ms);
    EXPECT_EQ(out.responses[at].size(), responses_before);
    EXPECT_TRUE(out.responses[endpoint_key(0xcb007177, 33333)].empty());
    EXPECT_EQ(core->handshake_stats().accepted, 1u);
    // Audited as replays, once a second at most (two unless a second boundary fell between).
    const auto security = audit_events_of("SecurityEvent");
    ASSERT_GE(security.size(), 1u);
    EXPECT_LE(security.size(), 2u);
    const auto &sec = std::get<jg::audit::SecurityEvent>(security[0].payload);
    EXPECT_EQ(sec.violation, jg::Reason::replay_detected);
    EXPECT_EQ(sec.source, jg::TransportAddr::v4(p.ip, p.port).to_string());

    // Nothing about the session moved: id, keys, binding, state.
    const auto after = session_of(p);
    EXPECT_EQ(after.session_id, before.session_id);
    EXPECT_EQ(after.state_version, before.state_version);
    EXPECT_EQ(after.key_epoch, before.key_epoch);
    EXPECT_EQ(after.binding, before.binding);
    EXPECT_EQ(after.state, jg::SessionState::Attached);
    EXPECT_EQ(tables.sessions[before.slot].current.load(), keys_before);
    EXPECT_EQ(tables.sessions[before.slot].next.load(), nullptr);
    EXPECT_EQ(forward(p, 10), 10u);
    expect_audit_log_valid();
}

}  // namespace
