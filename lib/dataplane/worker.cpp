// The worker lcore loop: RX bursts, handoff and down rings through the pipeline stages, TX
// flushes, queued frees and the RCU quiescent report once per iteration. Hot path: one worker
// lcore each.
#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <unistd.h>

#include <cerrno>

#include <cstring>

#include "dataplane/fragments.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"

namespace jg::dp {
namespace {

// Bring-up mode (no tables): every packet is counted and dropped.
inline void count_and_drop(Worker &w, rte_mbuf **pkts, uint16_t n) {
    counter_add(w.counters.drops[unsigned(DropReason::unclassified)], n);
    rte_pktmbuf_free_bulk(pkts, n);
}

void count_rx(Worker &w, unsigned qi, rte_mbuf **pkts, uint16_t n, uint16_t port_id) {
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) {
        bytes += rte_pktmbuf_pkt_len(pkts[i]);
        // Handed-off packets are re-classified by their owner, which needs the port.
        pkts[i]->port = port_id;
    }
    QueueCounters &qc = w.queue_counters[qi];
    counter_add(qc.rx_packets, n);
    counter_add(qc.rx_bytes, bytes);
}

void drain_down(Worker &w) {
    rte_mbuf *pkts[kBurstSize];
    const unsigned n =
        rte_ring_dequeue_burst(w.down, reinterpret_cast<void **>(pkts), kBurstSize, nullptr);
    rte_mbuf *control[kBurstSize];
    uint16_t n_control = 0;
    for (unsigned i = 0; i < n; ++i) {
        switch (packet_meta(pkts[i])->kind) {
            case MetaKind::SendRaw:
                send_raw(w, pkts[i]);
                break;
            case MetaKind::SendControl:
                control[n_control++] = pkts[i];
                break;
            default:
                drop(w, pkts[i], DropReason::down_malformed);
                break;
        }
    }
    if (n_control != 0)
        send_control_burst(w, control, n_control);
}

// The queue_counters entry credited with this worker's TX on a port: its first RX queue on
// that port (TX queue = worker index, which has no entry of its own).
uint8_t tx_counter_slot(const WorkerConfig &cfg, uint16_t port_id) {
    for (unsigned qi = 0; qi < cfg.n_queues; ++qi)
        if (cfg.queues[qi].port_id == port_id)
            return uint8_t(qi);
    return 0;
}

void prepare_local(Worker &w) {
    WorkerLocal &l = w.local;
    std::memset(&l, 0, sizeof(l));
    l.tsc_hz = rte_get_tsc_hz();
    const uint32_t rate = w.handshake_limit.per_second != 0 ? w.handshake_limit.per_second : 1;
    l.bucket_cost_tsc = l.tsc_hz / rate;
    l.bucket_max_tsc =
        l.bucket_cost_tsc * (w.handshake_limit.burst != 0 ? w.handshake_limit.burst : 1);
    const uint32_t budget = w.handshake_budget.per_second != 0 ? w.handshake_budget.per_second : 1;
    l.budget_cost_tsc = l.tsc_hz / budget;
    l.budget_max_tsc =
        l.budget_cost_tsc * (w.handshake_budget.burst != 0 ? w.handshake_budget.burst : 1);
    l.budget_tokens = l.budget_max_tsc;
    l.budget_last_tsc = rte_rdtsc();
    l.icmp_error_tokens = l.tsc_hz / kIcmpErrorsPerSecond * kIcmpErrorBurst;
    l.icmp_error_last_tsc = l.budget_last_tsc;
    l.fragments_expiry_period_tsc = l.tsc_hz / 1000;
    l.tx_counter_queue[kOuterSide] = tx_counter_slot(w.config, w.outer.port_id);
    l.tx_counter_queue[kInnerSide] = tx_counter_slot(w.config, w.inner.port_id);
}

int bringup_loop(Worker &w) {
    const WorkerConfig cfg = w.config;
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
            count_rx(w, qi, pkts, n, q.port_id);
            count_and_drop(w, pkts, n);
        }
        const uint64_t now = rte_rdtsc();
        counter_add(w.counters.total_cycles, now - last);
        if (received != 0)
            counter_add(w.counters.busy_cycles, now - last);
        else if (cfg.idle_sleep_us != 0)
            usleep(cfg.idle_sleep_us);
        else
            rte_pause();
        counter_add(w.counters.loops, 1);
        last = now;
    }
    return 0;
}

}  // namespace

void free_queued(Worker &w) {
    WorkerLocal::FreeList &f = w.local.to_free;
    if (f.n == 0)
        return;
    rte_pktmbuf_free_bulk(f.pkts, f.n);
    f.n = 0;
}

void tx_flush(Worker &w, PortSide side) {
    WorkerLocal::TxBuffer &b = w.local.tx[side];
    if (b.n == 0)
        return;
    const uint16_t port = port_info(w, side).port_id;
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < b.n; ++i)
        bytes += rte_pktmbuf_pkt_len(b.pkts[i]);
    const uint16_t sent = rte_eth_tx_burst(port, w.index, b.pkts, b.n);
    for (uint16_t i = sent; i < b.n; ++i) {
        bytes -= rte_pktmbuf_pkt_len(b.pkts[i]);
        drop(w, b.pkts[i], DropReason::tx_full);
    }
    QueueCounters &qc = w.queue_counters[w.local.tx_counter_queue[side]];
    counter_add(qc.tx_packets, sent);
    counter_add(qc.tx_bytes, bytes);
    b.n = 0;
}

void tx_enqueue(Worker &w, PortSide side, rte_mbuf *m) {
    WorkerLocal::TxBuffer &b = w.local.tx[side];
    if (b.n == kTxBufferSize)
        tx_flush(w, side);
    b.pkts[b.n++] = m;
}

void hand_off(Worker &w, uint16_t owner, rte_mbuf *m) {
    if (owner >= w.n_workers || rte_ring_enqueue(w.handoff[owner], m) != 0) {
        drop(w, m, DropReason::handoff_full);
        return;
    }
    counter_add(w.counters.handoffs, 1);
}

bool send_up(Worker &w, rte_mbuf *m) {
    if (rte_ring_enqueue(w.up, m) != 0) {
        drop(w, m, DropReason::event_ring_full);
        return false;
    }
    counter_add(w.counters.events_up, 1);
    return true;
}

bool send_up_event(Worker &w, rte_mempool *pool, MetaKind kind, const PeerAddr &src, uint32_t slot,
                   uint32_t local_index, uint64_t counter, uint64_t now) {
    rte_mbuf *e = rte_pktmbuf_alloc(pool);
    if (e == nullptr) {
        counter_add(w.counters.drops[unsigned(DropReason::event_ring_full)], 1);
        return false;
    }
    PacketMeta *meta = packet_meta(e);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = kind;
    meta->family = src.family;
    meta->worker = w.index;
    meta->port_id = w.outer.port_id;
    meta->src_port = src.port;
    std::memcpy(meta->src_addr, src.addr, sizeof(meta->src_addr));
    meta->src_mac = src.mac;
    meta->session_slot = slot;
    meta->local_index = local_index;
    meta->counter = counter;
    meta->rx_tsc = now;
    return send_up(w, e);
}

int worker_loop(void *arg) {
    Worker &w = *static_cast<Worker *>(arg);
    if (w.tables == nullptr)
        return bringup_loop(w);
    const WorkerConfig cfg = w.config;  // private copy: the loop never rereads shared config
    prepare_local(w);
    rte_rcu_qsbr *qsbr = w.tables->qsbr;
    // A worker the grace periods do not wait for could read freed keypairs: refuse to run.
    if (w.index >= w.tables->n_workers || w.index >= w.n_workers || w.up == nullptr ||
        w.aead == nullptr || rte_rcu_qsbr_thread_register(qsbr, w.index) != 0)
        return -EINVAL;
    rte_rcu_qsbr_thread_online(qsbr, w.index);
    rte_ring *handoff = w.handoff != nullptr ? w.handoff[w.index] : nullptr;
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
            count_rx(w, qi, pkts, n, q.port_id);
            classify_burst(w, pkts, n, rte_rdtsc());
        }
        if (handoff != nullptr) {
            const unsigned n = rte_ring_dequeue_burst(handoff, reinterpret_cast<void **>(pkts),
                                                      kBurstSize, nullptr);
            if (n != 0) {
                received += n;
                classify_burst(w, pkts, uint16_t(n), rte_rdtsc());
            }
        }
        if (w.down != nullptr && !rte_ring_empty(w.down)) {
            ++received;
            drain_down(w);
        }
        // A millisecond is far below any reassembly timeout, and checking that often keeps
        // the table's call out of most iterations.
        if (w.fragments != nullptr &&
            last - w.local.fragments_expired_tsc >= w.local.fragments_expiry_period_tsc) {
            w.local.fragments_expired_tsc = last;
            expire_fragments(w, last);
        }
        tx_flush(w, kOuterSide);
        tx_flush(w, kInnerSide);
        free_queued(w);  // after the flushes: a full TX queue drops
        // Every pointer loaded from the tables in this iteration is dead now.
        rte_rcu_qsbr_quiescent(qsbr, w.index);

        const uint64_t now = rte_rdtsc();
        counter_add(w.counters.total_cycles, now - last);
        if (received != 0)
            counter_add(w.counters.busy_cycles, now - last);
        else if (cfg.idle_sleep_us != 0)
            usleep(cfg.idle_sleep_us);
        else
            rte_pause();
        counter_add(w.counters.loops, 1);
        last = now;
    }
    if (w.fragments != nullptr)
        release_fragments(w);
    rte_rcu_qsbr_thread_offline(qsbr, w.index);
    rte_rcu_qsbr_thread_unregister(qsbr, w.index);
    return 0;
}

uint64_t total_drops(const Worker &w) {
    uint64_t n = 0;
    for (const auto &d : w.counters.drops)
        n += d.load(std::memory_order_relaxed);
    return n;
}

}  // namespace jg::dp
