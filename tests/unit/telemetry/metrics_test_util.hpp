// Test helpers for the metrics tests: find one sample in collected families by name and labels.
// Test threads only.
#pragma once

#include <prometheus/metric_family.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace jg::testing {

using Labels = std::map<std::string, std::string>;

inline const prometheus::MetricFamily *find_family(
    const std::vector<prometheus::MetricFamily> &families, const std::string &name) {
    for (const auto &f : families)
        if (f.name == name)
            return &f;
    return nullptr;
}

inline const prometheus::ClientMetric *find_metric(
    const std::vector<prometheus::MetricFamily> &families, const std::string &name,
    const Labels &labels) {
    const prometheus::MetricFamily *f = find_family(families, name);
    if (f == nullptr)
        return nullptr;
    for (const auto &m : f->metric) {
        Labels have;
        for (const auto &l : m.label)
            have[l.name] = l.value;
        if (have == labels)
            return &m;
    }
    return nullptr;
}

// A pointer into a temporary would dangle as soon as the full expression ends.
const prometheus::ClientMetric *find_metric(std::vector<prometheus::MetricFamily> &&,
                                            const std::string &, const Labels &) = delete;

// The sample's value (counter or gauge, by family type); nullopt when absent.
inline std::optional<double> sample(const std::vector<prometheus::MetricFamily> &families,
                                    const std::string &name, const Labels &labels = {}) {
    const prometheus::ClientMetric *m = find_metric(families, name, labels);
    if (m == nullptr)
        return std::nullopt;
    return find_family(families, name)->type == prometheus::MetricType::Gauge ? m->gauge.value
                                                                              : m->counter.value;
}

}  // namespace jg::testing
