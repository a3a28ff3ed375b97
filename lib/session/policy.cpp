#include "session/policy.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jg {
namespace {

Status fail(std::string_view key, std::string what) {
    return make_error(std::string(key), std::move(what));
}

template <class T>
std::string str(T v) {
    if constexpr (std::is_floating_point_v<T>) {
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.')
            s.pop_back();
        return s;
    } else {
        return std::to_string(v);
    }
}

}  // namespace

std::string_view legacy_roaming_name(LegacyRoaming r) {
    return r == LegacyRoaming::Allow ? "allow" : "deny";
}

Status validate_policy(const Policy &p) {
    const auto &s = p.session;
    const auto &v = p.volatility;
    const auto &w = p.switching;
    const auto &c = p.security;

    if (p.version.empty())
        return fail("version", "must not be empty (every audit event carries it)");
    // The contract bounds durations from below only; deadlines are `now + duration` in int64
    // ms, so an "unlimited" INT64_MAX would wrap into the past and expire at once instead.
    const std::pair<std::string_view, std::optional<int64_t>> durations[] = {
        {"session.max_lifetime_ms", s.max_lifetime_ms},
        {"session.transport_lost_ttl_ms", s.transport_lost_ttl_ms},
        {"volatility.heartbeat_volatile_ms", v.heartbeat_volatile_ms},
        {"volatility.loss_window_ms", v.loss_window_ms},
        {"volatility.volatile_to_degraded_ms", v.volatile_to_degraded_ms},
        {"volatility.stability_window_ms", v.stability_window_ms},
        {"volatility.latency_volatile_threshold_ms", v.latency_volatile_threshold_ms},
        {"volatility.jitter_volatile_threshold_ms", v.jitter_volatile_threshold_ms},
        {"switching.switch_cooldown_ms", w.switch_cooldown_ms},
        {"switching.recovery_window_ms", w.recovery_window_ms},
        {"security.reattach_proof_max_age_ms", c.reattach_proof_max_age_ms},
    };
    for (const auto &[key, value] : durations)
        if (value && *value > kMaxPolicyDurationMs)
            return fail(key, "must be at most " + str(kMaxPolicyDurationMs) + " (30 days), got " +
                                 str(*value));
    if (s.max_lifetime_ms <= 0)
        return fail("session.max_lifetime_ms", "must be > 0, got " + str(s.max_lifetime_ms));
    if (s.transport_lost_ttl_ms <= 0)
        return fail("session.transport_lost_ttl_ms",
                    "must be > 0, got " + str(s.transport_lost_ttl_ms));
    if (v.heartbeat_interval_ms < 10 || v.heartbeat_interval_ms > 60'000)
        return fail("volatility.heartbeat_interval_ms",
                    "must be in 10..60000, got " + str(v.heartbeat_interval_ms));
    if (v.heartbeat_volatile_ms <= v.heartbeat_interval_ms)
        return fail("volatility.heartbeat_volatile_ms",
                    "must be > volatility.heartbeat_interval_ms (" + str(v.heartbeat_interval_ms) +
                        "), got " + str(v.heartbeat_volatile_ms));
    if (v.loss_window_ms <= 0)
        return fail("volatility.loss_window_ms", "must be > 0, got " + str(v.loss_window_ms));
    if (!(v.loss_volatile_threshold > 0.0 && v.loss_volatile_threshold <= 1.0))
        return fail("volatility.loss_volatile_threshold",
                    "must be in (0, 1], got " + str(v.loss_volatile_threshold));
    if (v.max_consecutive_drops < 1)
        return fail("volatility.max_consecutive_drops", "must be >= 1, got 0");
    if (v.volatile_to_degraded_ms <= 0)
        return fail("volatility.volatile_to_degraded_ms",
                    "must be > 0, got " + str(v.volatile_to_degraded_ms));
    if (v.stability_window_ms <= 0)
        return fail("volatility.stability_window_ms",
                    "must be > 0, got " + str(v.stability_window_ms));
    if (v.latency_volatile_threshold_ms && *v.latency_volatile_threshold_ms <= 0)
        return fail("volatility.latency_volatile_threshold_ms",
                    "must be > 0 or off, got " + str(*v.latency_volatile_threshold_ms));
    if (v.jitter_volatile_threshold_ms && *v.jitter_volatile_threshold_ms <= 0)
        return fail("volatility.jitter_volatile_threshold_ms",
                    "must be > 0 or off, got " + str(*v.jitter_volatile_threshold_ms));
    if (w.switch_cooldown_ms < 0)
        return fail("switching.switch_cooldown_ms",
                    "must be >= 0, got " + str(w.switch_cooldown_ms));
    if (w.recovery_window_ms <= 0)
        return fail("switching.recovery_window_ms",
                    "must be > 0, got " + str(w.recovery_window_ms));
    if (!(w.switch_improvement_factor >= 1.0))
        return fail("switching.switch_improvement_factor",
                    "must be >= 1, got " + str(w.switch_improvement_factor));
    if (c.reattach_proof_max_age_ms <= 0)
        return fail("security.reattach_proof_max_age_ms",
                    "must be > 0, got " + str(c.reattach_proof_max_age_ms));
    if (c.replay_window_size < 16)
        return fail("security.replay_window_size",
                    "must be >= 16, got " + str(c.replay_window_size));
    return Ok{};
}

}  // namespace jg
