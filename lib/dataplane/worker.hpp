// Worker: the per-lcore poll loop and the per-worker state it owns (its queue list and its
// counters). Built by the control core before launch; the loop runs on one worker lcore.
#pragma once

#include <rte_common.h>

#include <atomic>
#include <cstdint>
#include <string_view>

#include "dataplane/worker_counter.hpp"

namespace jg::dp {

inline constexpr uint16_t kBurstSize = 32;
inline constexpr unsigned kMaxQueuesPerWorker = 16;

// Why a worker dropped a packet. One list: the enum, the names and the metric labels.
#define JG_DROP_REASONS(X)                                                 \
    X(unclassified) /* no pipeline stage claims the packet (bring-up mode) \
                     */

enum class DropReason : uint8_t {
#define JG_X(r) r,
    JG_DROP_REASONS(JG_X)
#undef JG_X
};
inline constexpr unsigned kDropReasonCount = 0
#define JG_X(r) +1
    JG_DROP_REASONS(JG_X)
#undef JG_X
    ;

constexpr std::string_view drop_reason_name(DropReason r) {
    switch (r) {
#define JG_X(r)         \
    case DropReason::r: \
        return #r;
        JG_DROP_REASONS(JG_X)
#undef JG_X
    }
    return "?";
}

struct RxQueueRef {
    uint16_t port_id;
    uint16_t queue_id;
};

// written: worker; read: control core (stats, metrics)
struct alignas(RTE_CACHE_LINE_SIZE) QueueCounters {
    Counter rx_packets{0};
    Counter rx_bytes{0};
    Counter tx_packets{0};
    Counter tx_bytes{0};
};

// written: worker; read: control core
struct alignas(RTE_CACHE_LINE_SIZE) WorkerCounters {
    Counter drops[kDropReasonCount]{};
    Counter loops{0};
    Counter busy_cycles{0};   // TSC cycles spent in iterations that received packets
    Counter total_cycles{0};  // TSC cycles since the loop started
};

// The worker's part of the core/queue map: data, printed at start-up, fixed while running.
struct WorkerConfig {
    unsigned lcore = 0;
    uint16_t n_queues = 0;
    RxQueueRef queues[kMaxQueuesPerWorker]{};
    // 0 = pure poll mode. >0 sleeps this long after an empty pass over all queues, for
    // hosts where the worker shares a core (development machines, CI).
    uint32_t idle_sleep_us = 0;
};

struct Worker {
    WorkerConfig config;
    const std::atomic<bool> *stop = nullptr;  // written: control core; read: worker
    QueueCounters queue_counters[kMaxQueuesPerWorker];
    WorkerCounters counters;
};

// lcore entry point (rte_eal_remote_launch): arg is a Worker*. Returns 0 when *stop is set.
int worker_loop(void *arg);

// Sums a worker's drops over every reason.
uint64_t total_drops(const Worker &w);

}  // namespace jg::dp
