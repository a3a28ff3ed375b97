// GatewayMetrics: the gateway's Prometheus collectable: sums the workers' per-lcore counters,
// the NIC and mempool statistics and the control core's published stats at scrape time.
// Collect: the exposer's threads (any thread); construction: before the exposer registers it.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

struct rte_mempool;

namespace jg::dp {
struct Worker;
}

namespace jg {

class AuditWriter;
class ControlStatsBoard;

struct MetricsPort {
    uint16_t port_id = 0;
    std::string name;  // the configuration's port name: the `port` label
};

struct MetricsPool {
    const rte_mempool *pool = nullptr;
    std::string name;  // the `pool` label
};

// Everything GatewayMetrics reads. The pointed-to objects must outlive the collectable's
// registration (unregister or destroy the exposer first). Null pointers / empty lists leave
// their metrics out.
struct GatewayMetricsSources {
    std::string version;
    std::vector<const dp::Worker *> workers;
    std::vector<MetricsPort> ports;
    std::vector<MetricsPool> pools;
    const AuditWriter *audit = nullptr;
    const ControlStatsBoard *control = nullptr;
};

class GatewayMetrics final : public prometheus::Collectable {
  public:
    explicit GatewayMetrics(GatewayMetricsSources sources);

    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    std::string port_name(uint16_t port_id) const;
    void collect_workers(std::vector<prometheus::MetricFamily> &out) const;
    void collect_busy_ratio(std::vector<prometheus::MetricFamily> &out) const;
    void collect_control(std::vector<prometheus::MetricFamily> &out) const;
    void collect_ports(std::vector<prometheus::MetricFamily> &out) const;

    GatewayMetricsSources sources_;

    struct CycleSample {
        uint64_t busy = 0;
        uint64_t total = 0;
    };
    // Per worker: the cycle counters at the previous scrape (the ratio covers the time since).
    mutable std::mutex cycles_mu_;
    mutable std::vector<CycleSample> previous_cycles_;  // guarded by cycles_mu_
};

}  // namespace jg
