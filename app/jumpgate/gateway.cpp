#include "gateway.hpp"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "control/control_loop.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"

namespace jg::app {
namespace {

// Set from the signal handler; lock-free atomics are async-signal-safe.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int) {
    g_stop.store(true);
}

// One DPDK runtime directory per node, so several gateways (or a gateway and its tests)
// can share a host.
std::string file_prefix(const std::string &node_id) {
    std::string p = "jumpgate-";
    for (char c : node_id)
        p += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return p;
}

std::vector<std::string> full_eal_arguments(const GatewayConfig &cfg) {
    auto args = eal_arguments(cfg, "jumpgate");
    bool has_prefix = false;
    for (const auto &a : cfg.eal.extra_args)
        has_prefix |= a.rfind("--file-prefix", 0) == 0;
    if (!has_prefix) {
        args.push_back("--file-prefix");
        args.push_back(file_prefix(cfg.node_id));
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

struct Bringup {
    std::vector<net::PortState> ports;  // index = GatewayConfig::ports index
    std::vector<std::unique_ptr<dp::Worker>> workers;
};

Result<Bringup> start_ports_and_workers(const GatewayConfig &cfg, std::ostream &log) {
    Bringup b;
    std::vector<net::PortSetup> setups;
    for (const auto &p : cfg.ports)
        setups.push_back(port_setup(p));

    const uint32_t n_mbufs = net::mbuf_pool_size(setups, rte_lcore_count());
    auto pool = net::create_mbuf_pool("jg_mbuf", n_mbufs, static_cast<int>(rte_socket_id()),
                                      dp::kMbufPrivSize);
    if (!pool)
        return pool.error();
    log << "mbuf pool: " << n_mbufs << " mbufs of " << RTE_MBUF_DEFAULT_BUF_SIZE << " bytes\n";

    for (const auto &s : setups) {
        auto st = net::start_port(s, *pool);
        if (!st) {
            for (const auto &started : b.ports)
                net::stop_port(started.port_id);
            return st.error();
        }
        log << "port " << st->name << ": dpdk port " << st->port_id << " (" << st->driver
            << "), mac " << net::format_mac(st->mac) << ", " << st->rx_queues << " rx / "
            << st->tx_queues << " tx queues, mtu " << st->mtu
            << (st->rss_hf ? ", rss on" : ", rss off") << "\n";
        for (const auto &n : st->notes)
            log << "  note: " << n << "\n";
        b.ports.push_back(std::move(*st));
    }

    for (const auto &wc : cfg.workers) {
        if (!rte_lcore_is_enabled(wc.lcore))
            return make_error("workers",
                              "lcore " + std::to_string(wc.lcore) + " is not enabled in the EAL");
        if (wc.queues.size() > dp::kMaxQueuesPerWorker)
            return make_error("workers", "lcore " + std::to_string(wc.lcore) + " polls " +
                                             std::to_string(wc.queues.size()) +
                                             " queues; at most " +
                                             std::to_string(dp::kMaxQueuesPerWorker));
        auto w = std::make_unique<dp::Worker>();
        w->config.lcore = wc.lcore;
        w->stop = &g_stop;
        for (const auto &q : wc.queues)
            w->config.queues[w->config.n_queues++] = {b.ports[q.port_index].port_id, q.queue};
        b.workers.push_back(std::move(w));
    }
    return b;
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
    for (const auto &p : b.ports) {
        rte_eth_stats s{};
        if (rte_eth_stats_get(p.port_id, &s) == 0)
            log << "  port " << p.name << "  ipackets " << s.ipackets << "  opackets " << s.opackets
                << "  imissed " << s.imissed << "  ierrors " << s.ierrors << "  rx_nombuf "
                << s.rx_nombuf << "\n";
    }
}

}  // namespace

int run_gateway(const GatewayConfig &cfg, const RunOptions &opts, std::ostream &log) {
    auto key = load_private_key(cfg.private_key);
    if (!key) {
        log << "jumpgate: " << key.error().message() << "\n";
        return 1;
    }
    if (cfg.private_key.kind == PrivateKeySource::Kind::File) {
        if (auto warn = key_file_permission_warning(cfg.private_key.path))
            log << "warning: " << *warn << "\n";
    }
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

    auto b = start_ports_and_workers(cfg, log);
    if (!b) {
        log << "jumpgate: " << b.error().message() << "\n";
        rte_eal_cleanup();
        return 1;
    }
    print_map(cfg, log);

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    for (const auto &w : b->workers)
        rte_eal_remote_launch(dp::worker_loop, w.get(), w->config.lcore);
    log << "gateway running (" << b->workers.size() << " worker"
        << (b->workers.size() == 1 ? "" : "s") << "); SIGINT or SIGTERM stops it\n"
        << std::flush;

    std::vector<const dp::Worker *> ws;
    for (const auto &w : b->workers)
        ws.push_back(w.get());
    control::ControlLoopConfig lc;
    lc.run_for_ms = opts.run_for_ms;
    lc.stats_interval_ms = opts.stats_interval_ms;
    control::run_control_loop(lc, g_stop, ws, log);

    log << "stopping: joining workers\n" << std::flush;
    rte_eal_mp_wait_lcore();
    print_summary(cfg, *b, log);
    for (const auto &p : b->ports)
        net::stop_port(p.port_id);
    rte_eal_cleanup();
    log << "jumpgate stopped cleanly\n" << std::flush;
    return 0;
}

}  // namespace jg::app
