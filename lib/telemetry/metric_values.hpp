// The pieces every exporter builds its samples from: a family, a counter or gauge sample, and
// the relaxed read of a counter another thread bumps. Whichever thread collects metrics.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace jg::metric_values {

inline prometheus::MetricFamily family(std::string name, std::string help,
                                       prometheus::MetricType type) {
    return prometheus::MetricFamily{std::move(name), std::move(help), type, {}};
}

inline prometheus::ClientMetric counter_metric(std::vector<prometheus::ClientMetric::Label> labels,
                                               uint64_t value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(value);
    return m;
}

inline prometheus::ClientMetric gauge_metric(std::vector<prometheus::ClientMetric::Label> labels,
                                             double value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    return m;
}

// Counters are written by one thread and read by the collector: a value an increment behind is
// fine, a fence per read is not.
inline uint64_t read(const std::atomic<uint64_t> &c) {
    return c.load(std::memory_order_relaxed);
}

}  // namespace jg::metric_values
