#include "telemetry/audit_metrics.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>

#include "telemetry/metric_values.hpp"

namespace jg {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void bump(std::atomic<uint64_t> &c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
}

using metric_values::counter_metric;
using metric_values::family;
using metric_values::read;

std::string reason_label(size_t r) {
    return std::string(reason_name(static_cast<Reason>(r)));
}

std::string state_label_of(size_t s) {
    return std::string(state_label(static_cast<SessionState>(s)));
}

}  // namespace

void AuditMetrics::observe(const audit::Event &event) noexcept {
    std::visit(
        [&](const auto &p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, audit::SessionCreated>) {
                sessions_[event.session_id] = TrackedSession{SessionState::Birth, event.ts_ms, -1};
            } else if constexpr (std::is_same_v<P, audit::SessionStateChange>) {
                on_state_change(event, p);
            } else if constexpr (std::is_same_v<P, audit::TransportSwitch>) {
                bump(transport_switches_[static_cast<size_t>(p.reason_code)]);
            } else if constexpr (std::is_same_v<P, audit::ReattachResult>) {
                bump(reattach_[(p.success ? kReasons : 0) + static_cast<size_t>(p.reason_code)]);
            } else if constexpr (std::is_same_v<P, audit::SecurityEvent>) {
                bump(security_events_[static_cast<size_t>(p.violation)]);
            } else if constexpr (std::is_same_v<P, audit::SessionTerminated>) {
                bump(terminations_[static_cast<size_t>(p.reason_code)]);
                sessions_.erase(event.session_id);
            }
        },
        event.payload);
}

void AuditMetrics::on_state_change(const audit::Event &event,
                                   const audit::SessionStateChange &change) {
    const auto from = static_cast<size_t>(change.previous_state);
    const auto to = static_cast<size_t>(change.new_state);
    bump(transitions_[(from * kStates + to) * kReasons + static_cast<size_t>(change.reason_code)]);

    // A session created before this observer was installed is followed from here on.
    auto [it, inserted] = sessions_.try_emplace(
        event.session_id, TrackedSession{change.previous_state, event.ts_ms, -1});
    TrackedSession &s = it->second;
    credit_state(s, event.ts_ms);
    s.state = change.new_state;

    if (change.new_state == SessionState::Terminated) {
        sessions_.erase(it);
        return;
    }
    if (change.new_state == SessionState::Volatile && s.volatile_since_ms < 0)
        s.volatile_since_ms = event.ts_ms;
    if (change.new_state == SessionState::Attached && s.volatile_since_ms >= 0) {
        observe_recovery(event.ts_ms - s.volatile_since_ms);
        s.volatile_since_ms = -1;
    }
}

void AuditMetrics::credit_state(TrackedSession &session, int64_t now_ms) {
    if (now_ms > session.credited_until_ms) {
        bump(state_ms_[static_cast<size_t>(session.state)],
             static_cast<uint64_t>(now_ms - session.credited_until_ms));
        session.credited_until_ms = now_ms;
    }
}

void AuditMetrics::observe_recovery(int64_t duration_ms) {
    if (duration_ms < 0)
        duration_ms = 0;
    const double seconds = static_cast<double>(duration_ms) / 1000.0;
    for (size_t b = 0; b < kBuckets; ++b) {
        if (seconds <= kRecoveryBucketsSeconds[b]) {
            bump(recovery_buckets_[b]);
            break;
        }
    }
    bump(recovery_sum_ms_, static_cast<uint64_t>(duration_ms));
    bump(recovery_count_);  // last: a reader that sees the count sees its bucket too
}

void AuditMetrics::advance(int64_t now_ms) {
    for (auto &[id, session] : sessions_)
        credit_state(session, now_ms);
}

std::vector<MetricFamily> AuditMetrics::Collect() const {
    std::vector<MetricFamily> out;

    auto transitions = family("jumpgate_session_transitions_total",
                              "Session state transitions by previous state, new state and reason",
                              MetricType::Counter);
    for (size_t from = 0; from < kStates; ++from)
        for (size_t to = 0; to < kStates; ++to)
            for (size_t r = 0; r < kReasons; ++r)
                if (const uint64_t v = read(transitions_[(from * kStates + to) * kReasons + r]))
                    transitions.metric.push_back(counter_metric({{"from", state_label_of(from)},
                                                                 {"to", state_label_of(to)},
                                                                 {"reason", reason_label(r)}},
                                                                v));
    out.push_back(std::move(transitions));

    auto per_reason = [&](std::string name, std::string help, std::string label,
                          const std::array<Count, kReasons> &counts) {
        auto f = family(std::move(name), std::move(help), MetricType::Counter);
        for (size_t r = 0; r < kReasons; ++r)
            if (const uint64_t v = read(counts[r]))
                f.metric.push_back(counter_metric({{label, reason_label(r)}}, v));
        out.push_back(std::move(f));
    };
    per_reason("jumpgate_transport_switches_total", "Transport (binding) switches by reason",
               "reason", transport_switches_);
    per_reason("jumpgate_session_terminations_total", "Sessions terminated, by reason", "reason",
               terminations_);
    per_reason("jumpgate_security_events_total", "Security events by violation", "violation",
               security_events_);

    auto reattach = family("jumpgate_reattach_total", "Reattach results by result and reason",
                           MetricType::Counter);
    for (size_t success = 0; success < 2; ++success)
        for (size_t r = 0; r < kReasons; ++r)
            if (const uint64_t v = read(reattach_[success * kReasons + r]))
                reattach.metric.push_back(counter_metric(
                    {{"result", success ? "success" : "denied"}, {"reason", reason_label(r)}}, v));
    out.push_back(std::move(reattach));

    auto state_seconds = family("jumpgate_state_seconds_total",
                                "Seconds sessions spent in each state", MetricType::Counter);
    for (size_t s = 0; s < kStates; ++s) {
        if (static_cast<SessionState>(s) == SessionState::Terminated)
            continue;  // nothing stays there
        auto m = counter_metric({{"state", state_label_of(s)}}, 0);
        m.counter.value = static_cast<double>(read(state_ms_[s])) / 1000.0;
        state_seconds.metric.push_back(std::move(m));
    }
    out.push_back(std::move(state_seconds));

    auto recovery = family("jumpgate_recovery_duration_seconds",
                           "Time from a session's VOLATILE entry to its return to ATTACHED",
                           MetricType::Histogram);
    ClientMetric h;
    h.histogram.sample_count = read(recovery_count_);
    h.histogram.sample_sum = static_cast<double>(read(recovery_sum_ms_)) / 1000.0;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
        cumulative += read(recovery_buckets_[b]);
        h.histogram.bucket.push_back({cumulative, kRecoveryBucketsSeconds[b]});
    }
    // Read after the buckets: the count covers every observation they include.
    h.histogram.bucket.push_back(
        {std::max(cumulative, h.histogram.sample_count), std::numeric_limits<double>::infinity()});
    h.histogram.sample_count = std::max(cumulative, h.histogram.sample_count);
    recovery.metric.push_back(std::move(h));
    out.push_back(std::move(recovery));
    return out;
}

}  // namespace jg
