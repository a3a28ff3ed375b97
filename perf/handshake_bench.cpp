// handshake_bench: how many WireGuard handshakes per second the control core completes. Runs
// ControlCore::poll (the gateway's own responder path: cookie check, Noise responder, session
// creation or key rotation, table writes, audit, response down to the worker) on real DPDK
// tables, rings and mbufs, fed initiations from many distinct configured peers exactly as a
// worker hands them up. Initiations are built before timing. Prints one JSON object per case.
//   handshake_bench [--quick] [--peers N] [--rounds R]
// Target (issue: data-plane performance): >= 4,000 handshakes/s on one control lcore.
#include <malloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/gateway_config.hpp"
#include "config/keys.hpp"
#include "control/control_clock.hpp"
#include "control/control_core.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "proto/cookie.hpp"
#include "proto/noise.hpp"
#include "telemetry/audit_writer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Initiation = std::array<uint8_t, jg::proto::kInitiationSize>;

constexpr unsigned kRingSize = 4096;
constexpr int64_t kTickMs = 10;  // the control loop's default timer cadence

struct Options {
    bool quick = false;
    uint32_t peers = 4000;
    uint32_t rounds = 2;  // round 0 creates every session, later rounds rotate keys
};

bool parse(int argc, char **argv, Options &o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            o.quick = true;
            o.peers = 200;
        } else if ((a == "--peers" || a == "--rounds") && i + 1 < argc) {
            const long v = std::strtol(argv[++i], nullptr, 10);
            if (v <= 0 || v > 1'000'000) {
                std::fprintf(stderr, "handshake_bench: %s wants 1..1000000, got %s\n", a.c_str(),
                             argv[i]);
                return false;
            }
            (a == "--peers" ? o.peers : o.rounds) = uint32_t(v);
        } else {
            std::fprintf(stderr, "usage: handshake_bench [--quick] [--peers N] [--rounds R]\n");
            return false;
        }
    }
    return true;
}

bool init_eal(const char *argv0) {
    const std::string prefix = "jghsbench" + std::to_string(getpid());
    std::vector<std::string> args = {
        argv0,      "--no-huge", "--no-pci",      "-m",   "512",         "--no-shconf",
        "--lcores", "0@0",       "--file-prefix", prefix, "--log-level", "lib.eal:error"};
    std::vector<char *> cargs;
    for (auto &a : args)
        cargs.push_back(a.data());
    return rte_eal_init(int(cargs.size()), cargs.data()) >= 0;
}

// The peer's address as the worker reports it: one distinct IPv4 source per peer.
void fill_meta(rte_mbuf *m, uint32_t peer) {
    jg::dp::PacketMeta *meta = jg::dp::packet_meta(m);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = jg::dp::MetaKind::HandshakeInitiation;
    meta->family = 4;
    meta->src_port = uint16_t(40000 + peer % 20000);
    const uint32_t ip = 0xC6120000u + peer;  // 198.18.0.0/15, benchmarking range
    meta->src_addr[0] = uint8_t(ip >> 24);
    meta->src_addr[1] = uint8_t(ip >> 16);
    meta->src_addr[2] = uint8_t(ip >> 8);
    meta->src_addr[3] = uint8_t(ip);
    meta->src_mac = rte_ether_addr{{0x02, 0xaa, 0, 0, 0, 0x0a}};
    meta->session_slot = jg::dp::kNoSession;
}

struct Setup {
    jg::dp::Tables tables{};
    rte_mempool *pool = nullptr;
    rte_ring *up[1]{};
    rte_ring *down[1]{};
    std::unique_ptr<jg::AuditWriter> audit;
    std::unique_ptr<jg::control::ControlCore> core;
    jg::proto::Key gateway_public{};
    std::vector<jg::proto::StaticIdentity> clients;
};

bool build(const Options &o, Setup &s) {
    jg::dp::TablesConfig tc;
    tc.name = "hsb";
    tc.max_sessions = o.peers;
    tc.max_hosts4 = o.peers + 16;
    tc.max_routes6 = 64;
    tc.lpm6_tbl8s = 64;
    tc.max_neighbors = 64;
    auto t = jg::dp::create_tables(tc);
    if (!t) {
        std::fprintf(stderr, "handshake_bench: tables: %s\n", t.error().message().c_str());
        return false;
    }
    s.tables = *t;
    s.pool = rte_pktmbuf_pool_create("hsb_pool", 2 * kRingSize + 1023, 256, jg::dp::kMbufPrivSize,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    s.up[0] = rte_ring_create("hsb_up", kRingSize, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    s.down[0] =
        rte_ring_create("hsb_down", kRingSize, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (s.pool == nullptr || s.up[0] == nullptr || s.down[0] == nullptr) {
        std::fprintf(stderr, "handshake_bench: pool or rings: %s\n", rte_strerror(rte_errno));
        return false;
    }

    const jg::SecretKey gateway_key = jg::generate_private_key();
    s.gateway_public = jg::proto::x25519_public_key(gateway_key.bytes());
    jg::GatewayConfig config;
    config.node_id = "hs-bench";
    // The responder itself is measured: no cookie round trip (the flood tests cover that).
    config.limits.handshake_rate_per_sec = UINT32_MAX;
    config.limits.max_sessions = o.peers;
    s.clients.reserve(o.peers);
    for (uint32_t i = 0; i < o.peers; ++i) {
        s.clients.push_back(jg::proto::StaticIdentity::generate());
        jg::PeerConfig peer;
        peer.name = "peer" + std::to_string(i);
        peer.public_key = s.clients.back().public_key();
        const uint32_t inner = 0x0A400000u + i;  // 10.64.0.0/10
        const std::string prefix =
            std::to_string(inner >> 24) + "." + std::to_string((inner >> 16) & 255) + "." +
            std::to_string((inner >> 8) & 255) + "." + std::to_string(inner & 255) + "/32";
        peer.allowed_ips = {*jg::parse_ip_prefix(prefix, jg::PrefixForm::Network)};
        config.peers.push_back(std::move(peer));
    }
    // The audit stream is formatted and written as in production, to /dev/null.
    auto sink = jg::AuditFileSink::open("/dev/null");
    if (!sink) {
        std::fprintf(stderr, "handshake_bench: audit sink: %s\n", sink.error().message().c_str());
        return false;
    }
    s.audit = std::make_unique<jg::AuditWriter>(std::shared_ptr<jg::AuditSink>(std::move(*sink)),
                                                jg::AuditWriterOptions{});
    jg::control::ControlRings rings{s.up, s.down, s.pool, 0};
    auto c = jg::control::ControlCore::create(config, gateway_key, s.tables, rings, *s.audit);
    if (!c) {
        std::fprintf(stderr, "handshake_bench: control core: %s\n", c.error().message().c_str());
        return false;
    }
    s.core = std::move(c).value();
    return true;
}

// Every peer's initiation for one round, built by lib/proto's initiator.
std::vector<Initiation> initiations(const Setup &s, uint32_t round) {
    std::vector<Initiation> out(s.clients.size());
    const uint64_t unix_ns = uint64_t(jg::control::control_clock().now_ms()) * jg::proto::kNsPerMs;
    for (size_t i = 0; i < s.clients.size(); ++i) {
        jg::proto::CookieJar jar(s.gateway_public);
        auto hs = jg::proto::InitiatorHandshake::create_initiation(
            s.clients[i], s.gateway_public, jg::proto::Key{}, uint32_t(round << 24 | i),
            unix_ns + round, unix_ns, jar, out[i]);
        if (!hs)
            std::fprintf(stderr, "handshake_bench: initiation: %s\n", hs.error().message().c_str());
    }
    return out;
}

unsigned drain_down(rte_ring *down) {
    rte_mbuf *m[64];
    unsigned total = 0;
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(down, reinterpret_cast<void **>(m), 64, nullptr)) > 0) {
        rte_pktmbuf_free_bulk(m, n);
        total += n;
    }
    return total;
}

// CPU time of the calling thread: the control core has its lcore to itself in production,
// while this machine may be shared, so the rate per CPU second is the comparable figure.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct RoundResult {
    double seconds = 0;
    double cpu_seconds = 0;
    double tick_cpu_seconds = 0;  // of cpu_seconds: the 10 ms timers over every session
    uint64_t accepted = 0;
    uint64_t responses = 0;
};

// Keeps the up ring fed as a busy worker would and runs the control loop's poll/tick cadence
// until every initiation of the round is handled.
RoundResult run_round(Setup &s, const std::vector<Initiation> &msgs) {
    const uint64_t accepted_before = s.core->handshake_stats().accepted;
    RoundResult r;
    size_t next = 0;
    size_t handled = 0;
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    int64_t next_tick = jg::control::control_clock().now_ms() + kTickMs;
    while (handled < msgs.size()) {
        while (next < msgs.size() && rte_ring_free_count(s.up[0]) > 0) {
            rte_mbuf *m = rte_pktmbuf_alloc(s.pool);
            if (m == nullptr)
                break;
            std::memcpy(rte_pktmbuf_append(m, jg::proto::kInitiationSize), msgs[next].data(),
                        jg::proto::kInitiationSize);
            fill_meta(m, uint32_t(next));
            rte_ring_sp_enqueue(s.up[0], m);
            ++next;
        }
        const int64_t now = jg::control::control_clock().now_ms();
        handled += s.core->poll(now);
        r.responses += drain_down(s.down[0]);
        if (now >= next_tick) {
            const double t = thread_cpu_seconds();
            s.core->tick(now);
            r.tick_cpu_seconds += thread_cpu_seconds() - t;
            next_tick = now + kTickMs;
        }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.cpu_seconds = thread_cpu_seconds() - cpu_start;
    r.responses += drain_down(s.down[0]);
    r.accepted = s.core->handshake_stats().accepted - accepted_before;
    return r;
}

size_t heap_in_use() {
    return mallinfo2().uordblks;
}

// CPU us of one X25519 with a variable point, the unit the responder's cost is made of.
double x25519_us() {
    unsigned char q[32], n[32], p[32];
    randombytes_buf(n, sizeof n);
    crypto_scalarmult_base(p, n);
    constexpr int kOps = 2000;
    const double start = thread_cpu_seconds();
    for (int i = 0; i < kOps; ++i) {
        if (crypto_scalarmult(q, n, p) != 0)
            return 0;
        p[0] ^= q[0] & 1;  // keep the compiler from hoisting the call
    }
    return (thread_cpu_seconds() - start) * 1e6 / kOps;
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    if (!parse(argc, argv, o))
        return 2;
    if (sodium_init() < 0 || !init_eal(argv[0])) {
        std::fprintf(stderr, "handshake_bench: libsodium or EAL init failed\n");
        return 2;
    }
    int rc = 0;
    {
        Setup s;
        if (!build(o, s))
            return 1;
        const double dh_us = x25519_us();
        // The control core's own per-session memory (the directory's session, its map and
        // queue entries) is heap; DPDK's tables are not, and are counted by dataplane_bench.
        const size_t heap_before = heap_in_use();
        for (uint32_t round = 0; round < o.rounds && rc == 0; ++round) {
            const auto msgs = initiations(s, round);
            // The responder refuses a second initiation from a peer within 20 ms.
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
            const RoundResult r = run_round(s, msgs);
            const double n = double(r.accepted);
            // The audit writer's thread drains the round's events first (to /dev/null, within
            // milliseconds): they are not session state.
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            const size_t live = s.core->directory().live_sessions();
            const double heap_per_session =
                live == 0 ? 0.0 : (double(heap_in_use()) - double(heap_before)) / double(live);
            std::printf(
                "{\"case\": \"%s\", \"peers\": %u, \"handshakes\": %llu, \"responses\": %llu, "
                "\"wall_seconds\": %.4f, \"cpu_seconds\": %.4f, \"handshakes_per_sec\": %.0f, "
                "\"handshakes_per_cpu_sec\": %.0f, \"cpu_us_per_handshake\": %.1f, "
                "\"x25519_cpu_us\": %.1f, \"x25519_per_handshake\": %.2f, "
                "\"tick_cpu_share\": %.3f, \"handshakes_per_cpu_sec_without_ticks\": %.0f, "
                "\"live_sessions\": %zu, \"control_heap_bytes_per_session\": %.0f}\n",
                round == 0 ? "new_sessions" : "rekey", o.peers, (unsigned long long)r.accepted,
                (unsigned long long)r.responses, r.seconds, r.cpu_seconds, n / r.seconds,
                n / r.cpu_seconds, 1e6 * r.cpu_seconds / n, dh_us, 1e6 * r.cpu_seconds / n / dh_us,
                r.tick_cpu_seconds / r.cpu_seconds, n / (r.cpu_seconds - r.tick_cpu_seconds), live,
                heap_per_session);
            std::fflush(stdout);
            // Every initiation is genuine and distinct: each must be answered.
            if (r.accepted != o.peers || r.responses != o.peers) {
                std::fprintf(stderr, "handshake_bench: %llu of %u handshakes completed\n",
                             (unsigned long long)r.accepted, o.peers);
                rc = 1;
            }
        }
        s.core.reset();
        s.audit->close();
        jg::dp::destroy_tables(s.tables);
    }
    rte_eal_cleanup();
    return rc;
}
