#include "control/control_loop.hpp"

#include <chrono>
#include <thread>

namespace jg::control {

WorkerTotals sum_workers(std::span<const dp::Worker *const> workers) {
    WorkerTotals t;
    for (const dp::Worker *w : workers) {
        for (unsigned q = 0; q < w->config.n_queues; ++q) {
            const auto &qc = w->queue_counters[q];
            t.rx_packets += qc.rx_packets.load(std::memory_order_relaxed);
            t.rx_bytes += qc.rx_bytes.load(std::memory_order_relaxed);
            t.tx_packets += qc.tx_packets.load(std::memory_order_relaxed);
        }
        t.drops += dp::total_drops(*w);
    }
    return t;
}

void run_control_loop(const ControlLoopConfig &cfg, std::atomic<bool> &stop,
                      std::span<const dp::Worker *const> workers, std::ostream &log) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto next_stats = start + std::chrono::milliseconds(cfg.stats_interval_ms);
    const auto tick = std::chrono::milliseconds(cfg.tick_ms > 0 ? cfg.tick_ms : 10);

    while (!stop.load(std::memory_order_relaxed)) {
        std::this_thread::sleep_for(tick);
        const auto now = clock::now();
        if (cfg.run_for_ms > 0 && now - start >= std::chrono::milliseconds(cfg.run_for_ms)) {
            log << "run time of " << cfg.run_for_ms << " ms reached, stopping\n" << std::flush;
            stop.store(true);
            break;
        }
        if (cfg.stats_interval_ms > 0 && now >= next_stats) {
            const WorkerTotals t = sum_workers(workers);
            log << "stats: rx " << t.rx_packets << " packets " << t.rx_bytes << " bytes, tx "
                << t.tx_packets << " packets, dropped " << t.drops << "\n"
                << std::flush;
            next_stats = now + std::chrono::milliseconds(cfg.stats_interval_ms);
        }
    }
}

}  // namespace jg::control
