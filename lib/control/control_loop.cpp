#include "control/control_loop.hpp"

#include "control/control_clock.hpp"
#include "control/control_core.hpp"

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
                      std::span<const dp::Worker *const> workers, std::ostream &log,
                      ControlCore *core, const std::function<void(int64_t now_ms)> &on_tick) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto next_stats = start + std::chrono::milliseconds(cfg.stats_interval_ms);
    const auto tick = std::chrono::milliseconds(cfg.tick_ms > 0 ? cfg.tick_ms : 10);
    auto next_tick = start + tick;
    ControlClock &clk = control_clock();

    while (!stop.load(std::memory_order_relaxed)) {
        // Handshakes wait in the rings while we sleep, so sleep only when they are empty.
        const unsigned handled = core != nullptr ? core->poll(clk.now_ms()) : 0;
        if (handled == 0)
            std::this_thread::sleep_until(std::min(next_tick, clock::now() + tick));
        const auto now = clock::now();
        if (now >= next_tick) {
            clk.slew();
            const int64_t now_ms = clk.now_ms();
            if (core != nullptr)
                core->tick(now_ms, clk.system_offset_ms());
            if (on_tick)
                on_tick(now_ms);
            next_tick = now + tick;
        }
        if (cfg.run_for_ms > 0 && now - start >= std::chrono::milliseconds(cfg.run_for_ms)) {
            log << "run time of " << cfg.run_for_ms << " ms reached, stopping\n" << std::flush;
            stop.store(true);
            break;
        }
        if (cfg.stats_interval_ms > 0 && now >= next_stats) {
            const WorkerTotals t = sum_workers(workers);
            log << "stats: rx " << t.rx_packets << " packets " << t.rx_bytes << " bytes, tx "
                << t.tx_packets << " packets, dropped " << t.drops;
            if (core != nullptr)
                log << ", sessions " << core->directory().live_sessions() << ", handshakes "
                    << core->handshake_stats().accepted << " accepted "
                    << core->handshake_stats().cookie_replies << " cookie replies";
            log << "\n" << std::flush;
            next_stats = now + std::chrono::milliseconds(cfg.stats_interval_ms);
        }
    }
}

}  // namespace jg::control
