#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <unistd.h>

namespace jg::dp {
namespace {

// Stage of the pipeline for one RX burst. In bring-up mode every packet is counted and
// dropped; later stages (classify, decap, encap) replace this.
inline void handle_burst(Worker &w, unsigned qi, rte_mbuf **pkts, uint16_t n) {
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i)
        bytes += rte_pktmbuf_pkt_len(pkts[i]);
    QueueCounters &qc = w.queue_counters[qi];
    counter_add(qc.rx_packets, n);
    counter_add(qc.rx_bytes, bytes);
    counter_add(w.counters.drops[unsigned(DropReason::unclassified)], n);
    rte_pktmbuf_free_bulk(pkts, n);
}

}  // namespace

int worker_loop(void *arg) {
    Worker &w = *static_cast<Worker *>(arg);
    const WorkerConfig cfg = w.config;  // private copy: the loop never rereads shared config
    rte_mbuf *pkts[kBurstSize];
    uint64_t last = rte_rdtsc();

    while (!w.stop->load(std::memory_order_relaxed)) {
        uint32_t received = 0;
        for (unsigned qi = 0; qi < cfg.n_queues; ++qi) {
            const RxQueueRef q = cfg.queues[qi];
            const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue_id, pkts, kBurstSize);
            if (n == 0)
                continue;
            received += n;
            handle_burst(w, qi, pkts, n);
        }
        const uint64_t now = rte_rdtsc();
        counter_add(w.counters.total_cycles, now - last);
        if (received != 0) {
            counter_add(w.counters.busy_cycles, now - last);
        } else if (cfg.idle_sleep_us != 0) {
            usleep(cfg.idle_sleep_us);
        } else {
            rte_pause();
        }
        counter_add(w.counters.loops, 1);
        last = now;
    }
    return 0;
}

uint64_t total_drops(const Worker &w) {
    uint64_t n = 0;
    for (const auto &d : w.counters.drops)
        n += d.load(std::memory_order_relaxed);
    return n;
}

}  // namespace jg::dp
