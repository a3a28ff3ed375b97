// ControlLoop: the control lcore's main loop (ticks, stop and deadline handling, periodic
// worker statistics). Runs on the control (EAL main) lcore only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>

#include "dataplane/worker.hpp"

namespace jg::control {
class ControlCore;
}

namespace jg::control {

struct ControlLoopConfig {
    int64_t tick_ms = 10;           // how often the loop wakes when idle
    int64_t stats_interval_ms = 0;  // 0 = no periodic statistics line
    int64_t run_for_ms = 0;         // 0 = until stop is set; >0 = stop after this long
};

struct WorkerTotals {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_packets = 0;
    uint64_t drops = 0;
};

// Sums every queue and drop counter of the given workers (reads only; any core).
WorkerTotals sum_workers(std::span<const dp::Worker *const> workers);

// Returns when `stop` is set (signal handler, admin command) or run_for_ms elapsed; sets
// `stop` itself in the latter case so workers see one flag. With a `core`, the loop polls its
// up rings continuously (sleeping tick_ms only when a pass found nothing) and runs its timers
// every tick_ms; without one it only ticks and prints statistics (bring-up mode).
// `on_tick`, if set, runs on this lcore after every tick with control_clock() ms (metrics
// publishing: the only safe place to read the single-threaded ControlCore).
void run_control_loop(const ControlLoopConfig &cfg, std::atomic<bool> &stop,
                      std::span<const dp::Worker *const> workers, std::ostream &log,
                      ControlCore *core = nullptr,
                      const std::function<void(int64_t now_ms)> &on_tick = {});

}  // namespace jg::control
