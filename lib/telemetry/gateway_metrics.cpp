#include "telemetry/gateway_metrics.hpp"

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <algorithm>
#include <map>
#include <utility>

#include "dataplane/worker.hpp"
#include "telemetry/audit_writer.hpp"
#include "telemetry/control_stats.hpp"
#include "telemetry/metric_values.hpp"

namespace jg {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using metric_values::counter_metric;
using metric_values::family;
using metric_values::gauge_metric;
using metric_values::read;

}  // namespace

GatewayMetrics::GatewayMetrics(GatewayMetricsSources sources)
    : sources_(std::move(sources)), previous_cycles_(sources_.workers.size()) {}

std::string GatewayMetrics::port_name(uint16_t port_id) const {
    for (const MetricsPort &p : sources_.ports)
        if (p.port_id == port_id)
            return p.name;
    return std::to_string(port_id);
}

std::vector<MetricFamily> GatewayMetrics::Collect() const {
    std::vector<MetricFamily> out;
    auto info = family("jumpgate_build_info", "The running jumpgate's version (always 1)",
                       MetricType::Gauge);
    info.metric.push_back(gauge_metric({{"version", sources_.version}}, 1.0));
    out.push_back(std::move(info));
    collect_workers(out);
    collect_busy_ratio(out);
    collect_control(out);
    collect_ports(out);
    return out;
}

void GatewayMetrics::collect_workers(std::vector<MetricFamily> &out) const {
    struct QueueTotals {
        uint64_t rx = 0;
        uint64_t tx = 0;
    };
    std::map<std::pair<uint16_t, uint16_t>, QueueTotals> queues;  // (port id, queue id)
    uint64_t drops[dp::kDropReasonCount]{};
    uint64_t reassembled = 0;
    for (const dp::Worker *w : sources_.workers) {
        reassembled += read(w->counters.reassembled);
        for (unsigned q = 0; q < w->config.n_queues && q < dp::kMaxQueuesPerWorker; ++q) {
            const dp::RxQueueRef ref = w->config.queues[q];
            QueueTotals &t = queues[{ref.port_id, ref.queue_id}];
            t.rx += read(w->queue_counters[q].rx_packets);
            t.tx += read(w->queue_counters[q].tx_packets);
        }
        for (unsigned r = 0; r < dp::kDropReasonCount; ++r)
            drops[r] += read(w->counters.drops[r]);
    }

    auto rx = family("jumpgate_rx_packets_total", "Packets received, by port and RX queue",
                     MetricType::Counter);
    auto tx = family("jumpgate_tx_packets_total",
                     "Packets transmitted, by port and the queue of the worker that sent them",
                     MetricType::Counter);
    for (const auto &[key, t] : queues) {
        const std::string port = port_name(key.first);
        const std::string queue = std::to_string(key.second);
        rx.metric.push_back(counter_metric({{"port", port}, {"queue", queue}}, t.rx));
        tx.metric.push_back(counter_metric({{"port", port}, {"queue", queue}}, t.tx));
    }
    out.push_back(std::move(rx));
    out.push_back(std::move(tx));

    auto dropped = family("jumpgate_dropped_packets_total",
                          "Packets the workers dropped, by reason", MetricType::Counter);
    for (unsigned r = 0; r < dp::kDropReasonCount; ++r)
        dropped.metric.push_back(counter_metric(
            {{"reason", std::string(dp::drop_reason_name(static_cast<dp::DropReason>(r)))}},
            drops[r]));
    out.push_back(std::move(dropped));

    auto whole = family("jumpgate_reassembled_datagrams_total",
                        "Fragmented outer datagrams the workers reassembled (fragments given up "
                        "on count as dropped, reason fragment)",
                        MetricType::Counter);
    whole.metric.push_back(counter_metric({}, reassembled));
    out.push_back(std::move(whole));
}

void GatewayMetrics::collect_busy_ratio(std::vector<MetricFamily> &out) const {
    auto busy = family("jumpgate_worker_busy_ratio",
                       "Share of a worker's cycles spent on received packets since the last scrape",
                       MetricType::Gauge);
    std::lock_guard lock(cycles_mu_);
    for (size_t i = 0; i < sources_.workers.size(); ++i) {
        const dp::Worker &w = *sources_.workers[i];
        const CycleSample now{read(w.counters.busy_cycles), read(w.counters.total_cycles)};
        CycleSample &before = previous_cycles_[i];
        const uint64_t total = now.total >= before.total ? now.total - before.total : 0;
        const uint64_t busy_cycles = now.busy >= before.busy ? now.busy - before.busy : 0;
        const double ratio =
            total == 0
                ? 0.0
                : std::min(1.0, static_cast<double>(busy_cycles) / static_cast<double>(total));
        if (now.total >= before.total)  // a worker reads both counters in its own order
            before = now;
        busy.metric.push_back(gauge_metric({{"lcore", std::to_string(w.config.lcore)}}, ratio));
    }
    out.push_back(std::move(busy));
}

void GatewayMetrics::collect_control(std::vector<MetricFamily> &out) const {
    if (sources_.audit != nullptr) {
        // One counter for every way an event misses the log, so the one alert covers a full
        // disk as well as a writer that cannot keep up.
        auto dropped = family("jumpgate_audit_events_dropped_total",
                              "Audit events missing from the audit log, by reason: queue_full "
                              "(the writer could not keep up) or write_error (the log could not "
                              "be written: disk full, I/O error)",
                              MetricType::Counter);
        const AuditWriterStats audit = sources_.audit->stats();
        dropped.metric.push_back(counter_metric({{"reason", "queue_full"}}, audit.dropped));
        dropped.metric.push_back(counter_metric({{"reason", "write_error"}}, audit.write_errors));
        out.push_back(std::move(dropped));
    }
    if (sources_.control == nullptr)
        return;
    const std::optional<ControlStats> stats = sources_.control->latest();
    if (!stats)
        return;  // the control core has not published yet: absent, not zero

    auto sessions = family("jumpgate_sessions", "Live sessions by state", MetricType::Gauge);
    for (int s = 0; s < kSessionStateCount; ++s) {
        const auto state = static_cast<SessionState>(s);
        if (state == SessionState::Terminated)
            continue;
        sessions.metric.push_back(
            gauge_metric({{"state", std::string(state_label(state))}},
                         static_cast<double>(stats->sessions_by_state[static_cast<size_t>(s)])));
    }
    out.push_back(std::move(sessions));

    auto handshakes = family("jumpgate_handshakes_total", "Handshake initiations by outcome",
                             MetricType::Counter);
    for (const auto &[result, count] : stats->handshakes_by_result)
        handshakes.metric.push_back(counter_metric({{"result", result}}, count));
    out.push_back(std::move(handshakes));

    auto cookies = family("jumpgate_cookie_replies_total",
                          "Cookie replies sent to initiations under load", MetricType::Counter);
    cookies.metric.push_back(counter_metric({}, stats->cookie_replies));
    out.push_back(std::move(cookies));

    auto keepalives =
        family("jumpgate_keepalives_sent_total",
               "Empty transport packets queued to the owner worker for peers whose data went "
               "unanswered (a worker without a current keypair drops them)",
               MetricType::Counter);
    keepalives.metric.push_back(counter_metric({}, stats->keepalives_sent));
    out.push_back(std::move(keepalives));

    auto crypto = family("jumpgate_crypto_bytes_total",
                         "Transport bytes decrypted (rx) and encrypted (tx)", MetricType::Counter);
    crypto.metric.push_back(counter_metric({{"direction", "rx"}}, stats->crypto_rx_bytes));
    crypto.metric.push_back(counter_metric({{"direction", "tx"}}, stats->crypto_tx_bytes));
    out.push_back(std::move(crypto));
}

void GatewayMetrics::collect_ports(std::vector<MetricFamily> &out) const {
    if (!sources_.ports.empty()) {
        auto rx = family("jumpgate_port_rx_packets_total", "Packets the NIC received",
                         MetricType::Counter);
        auto missed =
            family("jumpgate_port_rx_missed_total",
                   "Packets the NIC dropped because the RX queue was full", MetricType::Counter);
        auto errors = family("jumpgate_port_rx_errors_total", "Erroneous packets the NIC received",
                             MetricType::Counter);
        auto nombuf = family("jumpgate_port_rx_nombuf_total", "RX mbuf allocation failures",
                             MetricType::Counter);
        auto tx = family("jumpgate_port_tx_packets_total", "Packets the NIC transmitted",
                         MetricType::Counter);
        auto tx_errors =
            family("jumpgate_port_tx_errors_total", "Failed transmissions", MetricType::Counter);
        for (const MetricsPort &p : sources_.ports) {
            rte_eth_stats s{};
            if (rte_eth_stats_get(p.port_id, &s) != 0)
                continue;
            const std::vector<ClientMetric::Label> port{{"port", p.name}};
            rx.metric.push_back(counter_metric(port, s.ipackets));
            missed.metric.push_back(counter_metric(port, s.imissed));
            errors.metric.push_back(counter_metric(port, s.ierrors));
            nombuf.metric.push_back(counter_metric(port, s.rx_nombuf));
            tx.metric.push_back(counter_metric(port, s.opackets));
            tx_errors.metric.push_back(counter_metric(port, s.oerrors));
        }
        for (auto *f : {&rx, &missed, &errors, &nombuf, &tx, &tx_errors})
            out.push_back(std::move(*f));
    }
    if (!sources_.pools.empty()) {
        auto in_use =
            family("jumpgate_mempool_in_use", "Mbufs allocated from the pool", MetricType::Gauge);
        for (const MetricsPool &p : sources_.pools)
            in_use.metric.push_back(gauge_metric(
                {{"pool", p.name}}, static_cast<double>(rte_mempool_in_use_count(p.pool))));
        out.push_back(std::move(in_use));
    }
}

}  // namespace jg
