#include "gateway.hpp"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <prometheus/exposer.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "control/admin_endpoint.hpp"
#include "control/admin_socket.hpp"
#include "control/control_core.hpp"
#include "control/control_loop.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/fragments.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/cookie.hpp"
#include "telemetry/audit_metrics.hpp"
#include "telemetry/audit_writer.hpp"
#include "telemetry/control_stats.hpp"
#include "telemetry/gateway_metrics.hpp"

namespace jg::app {
static_assert(kMaxWorkerQueues == dp::kMaxQueuesPerWorker,
              "config validates against the data plane's limit");
static_assert(kMaxWorkers == dp::kMaxWorkers, "config validates against the data plane's limit");
static_assert(kMaxSessions == dp::kMaxSessions, "config validates against the tables' limit");
namespace {

// Set from the signal handler; lock-free atomics are async-signal-safe.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int) {
    g_stop.store(true);
}

// The audit file, for SIGHUP: logrotate moves the file away, then signals, and the writer
// reopens the path before its next batch. Without a handler SIGHUP would stop the gateway
// and lose the events still queued.
std::atomic<AuditFileSink *> g_audit_file{nullptr};
static_assert(std::atomic<AuditFileSink *>::is_always_lock_free);

extern "C" void on_reopen_signal(int) {
    if (AuditFileSink *sink = g_audit_file.load())
        sink->request_reopen();
}

std::vector<std::string> full_eal_arguments(const GatewayConfig &cfg) {
    auto args = eal_arguments(cfg, "jumpgate");
    bool has_prefix = false;
    for (const auto &a : cfg.eal.extra_args)
        has_prefix |= a.rfind("--file-prefix", 0) == 0;
    if (!has_prefix) {
        args.push_back("--file-prefix");
        args.push_back(control::gateway_file_prefix(cfg.node_id));
    }
    return args;
}

net::PortSetup port_setup(const PortConfig &p) {
    net::PortSetup s;
    s.name = p.name;
    s.device = p.device;
    s.rx_queues = p.rx_queues;
    s.tx_queues = p.tx_queues;
    s.mtu = static_cast<uint16_t>(p.mtu);
    s.rss = p.rss;
    s.mac = p.mac;
    return s;
}

// Everything the running gateway owns, released in reverse order of creation.
struct Bringup {
    std::vector<net::PortState> ports;  // index = GatewayConfig::ports index
    rte_mempool *pool = nullptr;
    dp::Tables tables{};
    bool have_tables = false;
    std::vector<rte_ring *> up, down, handoff;
    std::vector<std::unique_ptr<crypto::IpsecMbAead>> aead;
    std::vector<dp::FragmentTable> fragments;  // one per worker when reassembly is on
    std::vector<std::unique_ptr<dp::Worker>> workers;
    std::unique_ptr<AuditWriter> audit;
    std::unique_ptr<control::ControlCore> core;

    Bringup() = default;
    Bringup(const Bringup &) = delete;
    Bringup(Bringup &&) = default;
    ~Bringup() { release(); }

    // Only once every worker lcore has returned: workers read all of this.
    void release() {
        core.reset();
        fragments.clear();  // gives back the mbufs of datagrams still in reassembly
        for (auto *rings : {&up, &down, &handoff}) {
            for (rte_ring *r : *rings) {
                void *m = nullptr;
                while (rte_ring_dequeue(r, &m) == 0)
                    rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
                rte_ring_free(r);
            }
            rings->clear();
        }
        if (have_tables) {
            dp::destroy_tables(tables);
            have_tables = false;
        }
        for (const auto &p : ports)
            net::stop_port(p.port_id);
        ports.clear();
        // No reopen request may reach the sink once it is gone.
        std::signal(SIGHUP, SIG_IGN);
        g_audit_file.store(nullptr);
        if (audit)
            audit->close();
        audit.reset();
    }
};

uint32_t be32_of(const IpPrefix &p) {
    uint32_t v;
    std::memcpy(&v, p.addr.data(), 4);
    return v;
}

dp::PortInfo port_info(const PortConfig &pc, const net::PortState &st) {
    dp::PortInfo pi;
    pi.port_id = st.port_id;
    std::copy(st.mac.begin(), st.mac.end(), pi.mac.addr_bytes);
    pi.mtu = st.mtu;
    if (pc.ipv4) {
        pi.ipv4 = be32_of(*pc.ipv4);
        const uint32_t mask =
            pc.ipv4->length == 0 ? 0 : rte_cpu_to_be_32(~uint32_t(0) << (32 - pc.ipv4->length));
        pi.subnet4 = pi.ipv4 & mask;
        pi.subnet4_mask = mask;
    }
    if (pc.ipv6) {
        std::memcpy(pi.ipv6, pc.ipv6->addr.data(), 16);
        pi.subnet6_len = pc.ipv6->length;
    }
    if (pc.next_hop) {
        if (pc.next_hop->family == 4)
            pi.next_hop4 = be32_of(*pc.next_hop);
        else
            std::memcpy(pi.next_hop6, pc.next_hop->addr.data(), 16);
    }
    return pi;
}

rte_ring *make_ring(const std::string &name, unsigned size, unsigned flags) {
    return rte_ring_create(name.c_str(), size, static_cast<int>(rte_socket_id()), flags);
}

Status start_ports(const GatewayConfig &cfg, Bringup &b, std::ostream &log) {
    std::vector<net::PortSetup> setups;
    for (const auto &p : cfg.ports)
        setups.push_back(port_setup(p));
    // Each worker's reassembly table may hold this many mbufs on top of the ports' own.
    const uint64_t reassembly_mbufs = uint64_t(cfg.workers.size()) *
                                      cfg.limits.reassembly_datagrams *
                                      dp::kMaxFragmentsPerDatagram;
    const uint64_t wanted = net::mbuf_pool_size(setups, rte_lcore_count()) + reassembly_mbufs;
    if (wanted > UINT32_MAX)
        return make_error("limits.reassembly_datagrams",
                          "the mbuf pool would need " + std::to_string(wanted) + " mbufs");
    const uint32_t n_mbufs = uint32_t(wanted);
    auto pool = net::create_mbuf_pool("jg_mbuf", n_mbufs, static_cast<int>(rte_socket_id()),
                                      dp::kMbufPrivSize);
    if (!pool) {
        if (reassembly_mbufs == 0)
            return pool.error();
        return make_error("mbuf pool", pool.error().message() + " (" +
                                           std::to_string(reassembly_mbufs) +
                                           " of them for limits.reassembly_datagrams: lower it "
                                           "or raise eal.memory_mb)");
    }
    b.pool = *pool;
    log << "mbuf pool: " << n_mbufs << " mbufs of " << RTE_MBUF_DEFAULT_BUF_SIZE << " bytes ("
        << reassembly_mbufs << " for reassembly)\n";

    for (const auto &s : setups) {
        auto st = net::start_port(s, b.pool);
        if (!st)
            return st.error();
        log << "port " << st->name << ": dpdk port " << st->port_id << " (" << st->driver
            << "), mac " << net::format_mac(st->mac) << ", " << st->rx_queues << " rx / "
            << st->tx_queues << " tx queues, mtu " << st->mtu
            << (st->rss_hf ? ", rss on" : ", rss off") << "\n";
        for (const auto &n : st->notes)
            log << "  note: " << n << "\n";
        // Fragments hashed apart land on different workers, each holding part of a datagram
        // until it times out.
        const uint64_t frag_types = RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_FRAG_IPV6;
        if (cfg.limits.reassembly_datagrams != 0 && st->rss_hf != 0 &&
            (st->rss_hf & frag_types) != frag_types)
            log << "  warning: the device's RSS does not hash IP fragments on addresses alone: "
                   "fragmented datagrams may be split between workers and lost\n";
        b.ports.push_back(std::move(*st));
    }
    return Ok{};
}

Status create_pipeline(const GatewayConfig &cfg, const SecretKey &key, Bringup &b,
                       std::ostream &log) {
    const auto n_workers = static_cast<uint16_t>(cfg.workers.size());
    if (n_workers > dp::kMaxWorkers)
        return make_error("workers", std::to_string(n_workers) + " workers; at most " +
                                         std::to_string(dp::kMaxWorkers));
    size_t outer_i = cfg.ports.size(), inner_i = cfg.ports.size(), n_inner = 0;
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
        if (cfg.ports[i].role == PortRole::Outer) {
            outer_i = i;
        } else {
            n_inner++;
            if (inner_i == cfg.ports.size())
                inner_i = i;
        }
    }
    if (n_inner != 1)
        return make_error("ports", "this gateway forwards to exactly one inner port; " +
                                       std::to_string(n_inner) + " are configured");

    // Host routes (/32, /128) and shorter prefixes live in different tables; each is sized
    // for twice the configured count, room for moves while old entries wait out readers.
    uint32_t routes4 = 0, routes6 = 0, hosts4 = 0, hosts6 = 0;
    for (const auto &p : cfg.peers)
        for (const auto &a : p.allowed_ips) {
            const bool host = a.length == a.max_length();
            (a.family == 4 ? (host ? hosts4 : routes4) : (host ? hosts6 : routes6))++;
        }
    dp::TablesConfig tc;
    tc.name = "jg";
    tc.max_sessions = cfg.limits.max_sessions;
    tc.max_routes4 = std::max<uint32_t>(1024, routes4 * 2);
    tc.max_routes6 = std::max<uint32_t>(1024, routes6 * 2);
    tc.max_hosts4 = std::max<uint32_t>(1024, hosts4 * 2);
    tc.max_hosts6 = std::max<uint32_t>(1024, hosts6 * 2);
    tc.n_workers = n_workers;
    tc.socket = static_cast<int>(rte_socket_id());
    auto t = dp::create_tables(tc);
    if (!t)
        return t.error();
    b.tables = *t;
    b.have_tables = true;
    log << "tables: " << tc.max_sessions << " session slots, " << dp::bytes_per_session()
        << " bytes per session\n";

    for (uint16_t w = 0; w < n_workers; ++w) {
        const std::string id = std::to_string(w);
        b.up.push_back(make_ring("jg_up" + id, 4096, RING_F_SP_ENQ | RING_F_SC_DEQ));
        b.down.push_back(make_ring("jg_down" + id, 1024, RING_F_SP_ENQ | RING_F_SC_DEQ));
        b.handoff.push_back(make_ring("jg_handoff" + id, 4096, RING_F_SC_DEQ));
        if (!b.up.back() || !b.down.back() || !b.handoff.back())
            return make_error("rings", "cannot create the rings of worker " + id + ": " +
                                           rte_strerror(rte_errno));
        auto a = crypto::IpsecMbAead::create();
        if (!a)
            return a.error();
        b.aead.push_back(std::make_unique<crypto::IpsecMbAead>(std::move(*a)));
        if (cfg.limits.reassembly_datagrams != 0) {
            // On the worker's own node: only that lcore touches it.
            const auto socket = static_cast<int>(rte_lcore_to_socket_id(cfg.workers[w].lcore));
            auto f = dp::create_fragment_table(cfg.limits.reassembly_datagrams,
                                               cfg.limits.reassembly_timeout_ms, socket);
            if (!f)
                return f.error();
            b.fragments.push_back(std::move(*f));
        }
    }
    if (cfg.limits.reassembly_datagrams != 0)
        log << "reassembly: up to " << cfg.limits.reassembly_datagrams
            << " fragmented outer datagrams per worker, " << cfg.limits.reassembly_timeout_ms
            << " ms each\n";
    else
        log << "reassembly: off, outer fragments are dropped\n";
    log << "crypto: ipsec-mb " << b.aead.front()->arch_name() << " job API, one manager per "
        << "worker\n";

    const proto::Hash mac1 = proto::mac1_key_for(derive_public_key(key));
    for (uint16_t wi = 0; wi < n_workers; ++wi) {
        const auto &wc = cfg.workers[wi];
        if (!rte_lcore_is_enabled(wc.lcore))
            return make_error("workers[" + std::to_string(wi) + "]",
                              "lcore " + std::to_string(wc.lcore) + " is not enabled in the EAL");
        if (wc.queues.size() > dp::kMaxQueuesPerWorker)
            return make_error("workers[" + std::to_string(wi) + "]",
                              "polls " + std::to_string(wc.queues.size()) + " queues; at most " +
                                  std::to_string(dp::kMaxQueuesPerWorker));
        auto w = std::make_unique<dp::Worker>();
        w->config.lcore = wc.lcore;
        for (const auto &q : wc.queues)
            w->config.queues[w->config.n_queues++] = {b.ports[q.port_index].port_id, q.queue};
        w->stop = &g_stop;
        w->index = wi;
        w->n_workers = n_workers;
        w->tables = &b.tables;
        w->up = b.up[wi];
        w->down = b.down[wi];
        w->handoff = b.handoff.data();
        w->aead = b.aead[wi].get();
        w->fragments = b.fragments.empty() ? nullptr : b.fragments[wi].get();
        w->outer = port_info(cfg.ports[outer_i], b.ports[outer_i]);
        w->inner = port_info(cfg.ports[inner_i], b.ports[inner_i]);
        w->listen_port = cfg.listen_port;
        std::copy(mac1.begin(), mac1.end(), w->mac1_key.begin());
        b.workers.push_back(std::move(w));
    }

    auto sink = AuditFileSink::open(cfg.audit.path);
    if (!sink)
        return sink.error();
    g_audit_file.store(sink->get());
    AuditWriterOptions wo;
    wo.node_id = cfg.node_id;
    wo.capacity = cfg.audit.queue_capacity;
    b.audit = std::make_unique<AuditWriter>(std::shared_ptr<AuditSink>(std::move(*sink)), wo);
    log << "audit log: " << cfg.audit.path << "\n";

    control::ControlRings rings{b.up, b.down, b.pool, b.ports[outer_i].port_id};
    auto core = control::ControlCore::create(cfg, key, b.tables, rings, *b.audit);
    if (!core)
        return core.error();
    b.core = std::move(core).value();
    log << "peers: " << cfg.peers.size() << " configured, listening on UDP " << cfg.listen_port
        << "\n";
    return Ok{};
}

void print_map(const GatewayConfig &cfg, std::ostream &log) {
    log << "core/queue map: control lcore " << cfg.control_lcore << "\n";
    for (const auto &wc : cfg.workers) {
        log << "  worker lcore " << wc.lcore << " polls";
        for (const auto &q : wc.queues)
            log << " " << q.port << "/q" << q.queue;
        log << "\n";
    }
}

void print_summary(const GatewayConfig &cfg, const Bringup &b, std::ostream &log) {
    log << "shutdown summary:\n";
    for (size_t wi = 0; wi < b.workers.size(); ++wi) {
        const dp::Worker &w = *b.workers[wi];
        const auto &wc = cfg.workers[wi];
        for (size_t qi = 0; qi < wc.queues.size(); ++qi) {
            const auto &qc = w.queue_counters[qi];
            log << "  worker lcore " << wc.lcore << "  " << wc.queues[qi].port << "/q"
                << wc.queues[qi].queue << "  rx " << qc.rx_packets.load() << " packets "
                << qc.rx_bytes.load() << " bytes  tx " << qc.tx_packets.load() << " packets\n";
        }
        log << "  worker lcore " << wc.lcore << "  dropped";
        for (unsigned r = 0; r < dp::kDropReasonCount; ++r)
            log << " " << dp::drop_reason_name(dp::DropReason(r)) << "="
                << w.counters.drops[r].load();
        const uint64_t total = w.counters.total_cycles.load();
        const uint64_t busy = w.counters.busy_cycles.load();
        log << "  busy " << (total ? 100.0 * double(busy) / double(total) : 0.0) << "%\n";
    }
    if (b.core) {
        const auto &d = b.core->stats();
        const auto &h = b.core->handshake_stats();
        log << "  control  handshakes " << h.initiations << " initiations, " << h.accepted
            << " accepted, " << h.cookie_replies << " cookie replies;  sessions "
            << d.sessions_created << " created, " << d.sessions_terminated << " terminated, "
            << d.key_rotations << " key rotations;  control messages " << d.control_messages << " ("
            << d.control_rejected << " rejected);  stale events " << d.stale_events
            << ";  table write errors " << d.dataplane_errors << ";  frames lost " << d.frames_lost
            << ";  audit dropped " << d.audit_dropped << "\n";
    }
    for (const auto &p : b.ports) {
        rte_eth_stats s{};
        if (rte_eth_stats_get(p.port_id, &s) == 0)
            log << "  port " << p.name << "  ipackets " << s.ipackets << "  opackets " << s.opackets
                << "  imissed " << s.imissed << "  ierrors " << s.ierrors << "  rx_nombuf "
                << s.rx_nombuf << "\n";
    }
}

// The Prometheus endpoint. Its exposer threads read the workers, ports, pool and audit writer,
// so it is destroyed before the pipeline it reads (declared after it, reset before release).
struct MetricsEndpoint {
    AuditWriter *audit = nullptr;
    std::shared_ptr<AuditMetrics> audit_metrics = std::make_shared<AuditMetrics>();
    ControlStatsBoard board;
    int64_t next_publish_ms = 0;
    std::shared_ptr<GatewayMetrics> gateway_metrics;
    std::unique_ptr<prometheus::Exposer> exposer;  // last: stopped first

    MetricsEndpoint() = default;
    MetricsEndpoint(const MetricsEndpoint &) = delete;
    MetricsEndpoint &operator=(const MetricsEndpoint &) = delete;
    ~MetricsEndpoint() {
        exposer.reset();
        if (audit != nullptr)
            audit->set_observer(nullptr);
    }
};

// The scrape sees the control core's state at most this old.
constexpr int64_t kMetricsPublishIntervalMs = 250;
// How long a metrics connection may take to send its request (ms).
constexpr int kMetricsRequestTimeoutMs = 5'000;

// Observability never stops the gateway: an address it cannot bind leaves it without /metrics
// (nullptr, with a warning), not without packets.
std::unique_ptr<MetricsEndpoint> start_metrics(const GatewayConfig &cfg, Bringup &b,
                                               std::ostream &log) {
    auto m = std::make_unique<MetricsEndpoint>();
    GatewayMetricsSources src;
    src.version = JUMPGATE_VERSION;
    for (const auto &w : b.workers)
        src.workers.push_back(w.get());
    for (const auto &p : b.ports)
        src.ports.push_back({p.port_id, p.name});
    if (b.pool != nullptr)
        src.pools.push_back({b.pool, b.pool->name});
    src.audit = b.audit.get();
    src.control = &m->board;
    m->gateway_metrics = std::make_shared<GatewayMetrics>(std::move(src));
    try {
        // civetweb holds a thread per connection until its request timeout (30 s by
        // default): with one thread, one idle connection stalled every scrape behind it.
        m->exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
            "listening_ports", cfg.metrics.listen, "num_threads", "4", "request_timeout_ms",
            std::to_string(kMetricsRequestTimeoutMs)});
    } catch (const std::exception &e) {
        log << "warning: metrics.listen " << cfg.metrics.listen << ": " << e.what()
            << "; running without a metrics endpoint\n";
        return nullptr;
    }
    m->exposer->RegisterCollectable(m->gateway_metrics, cfg.metrics.path);
    m->exposer->RegisterCollectable(m->audit_metrics, cfg.metrics.path);
    m->audit = b.audit.get();
    m->audit->set_observer(m->audit_metrics.get());
    log << "metrics: http://" << cfg.metrics.listen << cfg.metrics.path << "\n";
    return m;
}

// Control lcore, every tick: copies what the scrape needs out of the single-threaded core
// (every kMetricsPublishIntervalMs).
void publish_control_stats(MetricsEndpoint &m, const control::ControlCore &core, int64_t now_ms) {
    if (now_ms < m.next_publish_ms)
        return;
    m.next_publish_ms = now_ms + kMetricsPublishIntervalMs;
    ControlStats s;
    // Kept by the directory as sessions change: publishing costs the same with a million
    // sessions as with one.
    const control::SessionDirectory &d = core.directory();
    s.sessions_by_state = d.sessions_by_state();
    s.crypto_rx_bytes = d.rx_bytes_total();
    s.crypto_tx_bytes = d.tx_bytes_total();
    const auto &h = core.handshake_stats();
    s.handshakes_by_result.emplace_back("accepted", h.accepted);
    s.handshakes_by_result.emplace_back("cookie_reply", h.cookie_replies);
    for (size_t r = 0; r < h.refused.size(); ++r)
        s.handshakes_by_result.emplace_back(
            control::handshake_refusal_name(static_cast<control::HandshakeRefusal>(r)),
            h.refused[r]);
    s.cookie_replies = h.cookie_replies;
    s.keepalives_sent = core.stats().keepalives_sent;
    m.board.publish(std::move(s));
    m.audit_metrics->advance(now_ms);
}

// Like metrics, the admin commands are not worth stopping packets for: a failure is a warning.
std::unique_ptr<control::AdminEndpoint> start_admin(const GatewayConfig &cfg, const Bringup &b,
                                                    std::ostream &log) {
    control::AdminSources src;
    for (const auto &w : b.workers)
        src.workers.push_back(w.get());
    src.peer_profiles = control::peer_profiles(cfg.peers);
    src.audit = b.audit.get();
    auto admin = control::AdminEndpoint::start(std::move(src));
    if (!admin) {
        log << "warning: " << admin.error().message() << "; running without admin commands\n";
        return nullptr;
    }
    log << "admin: /jumpgate/ commands on " << rte_eal_get_runtime_dir()
        << "/dpdk_telemetry.v2 (jumpgatectl)\n";
    return std::move(admin).value();
}

}  // namespace

int run_gateway(const GatewayConfig &cfg, const RunOptions &opts, std::ostream &log) {
    auto key = load_private_key(cfg.private_key);
    if (!key) {
        log << "jumpgate: " << key.error().message() << "\n";
        return 1;
    }
    std::vector<std::string> key_warnings;
    if (auto st = check_key_files(cfg, key_warnings); !st) {
        log << "jumpgate: " << st.error().message() << "\n";
        return 1;
    }
    for (const auto &warn : key_warnings)
        log << "warning: " << warn << "\n";
    log << "node " << cfg.node_id << ", public key " << encode_key(derive_public_key(*key))
        << (cfg.private_key.kind == PrivateKeySource::Kind::Ephemeral ? " (ephemeral)" : "")
        << "\n";

    auto args = full_eal_arguments(cfg);
    log << "EAL:";
    for (const auto &a : args)
        log << " " << a;
    log << "\n" << std::flush;
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        log << "jumpgate: EAL initialisation failed: " << rte_strerror(rte_errno) << "\n";
        return 1;
    }

    Bringup b;
    Status up = start_ports(cfg, b, log);
    if (up)
        up = create_pipeline(cfg, *key, b, log);
    if (!up) {
        log << "jumpgate: " << up.error().message() << "\n";
        b.release();
        rte_eal_cleanup();
        return 1;
    }
    print_map(cfg, log);
    std::unique_ptr<MetricsEndpoint> metrics = start_metrics(cfg, b, log);
    std::unique_ptr<control::AdminEndpoint> admin = start_admin(cfg, b, log);

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGHUP, on_reopen_signal);
    for (const auto &w : b.workers)
        rte_eal_remote_launch(dp::worker_loop, w.get(), w->config.lcore);
    log << "gateway running (" << b.workers.size() << " worker"
        << (b.workers.size() == 1 ? "" : "s")
        << "); SIGINT or SIGTERM stops it, SIGHUP reopens the audit log\n"
        << std::flush;

    std::vector<const dp::Worker *> ws;
    for (const auto &w : b.workers)
        ws.push_back(w.get());
    control::ControlLoopConfig lc;
    lc.run_for_ms = opts.run_for_ms;
    lc.stats_interval_ms = opts.stats_interval_ms;
    control::run_control_loop(lc, g_stop, ws, log, b.core.get(), [&](int64_t now_ms) {
        if (metrics && b.core)
            publish_control_stats(*metrics, *b.core, now_ms);
        if (admin && b.core)
            admin->on_tick(*b.core, now_ms);
    });
    admin.reset();  // nothing answers its requests any more

    log << "stopping: joining workers\n" << std::flush;
    rte_eal_mp_wait_lcore();
    metrics.reset();  // the scrape reads the pipeline: stop it first
    print_summary(cfg, b, log);
    b.release();
    rte_eal_cleanup();
    log << "jumpgate stopped cleanly\n" << std::flush;
    return 0;
}

}  // namespace jg::app
