// Policy: the per-profile limits of STATE_MACHINE.md (defaults, bounds, validation).
// Value type; built and validated on the control path, read by the control core's FSM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace jg {

enum class LegacyRoaming : uint8_t { Allow, Deny };

// All durations in milliseconds. Field names mirror the YAML keys (section.key) so an error
// can name the key an operator wrote.
struct Policy {
    std::string name = "default";
    std::string version = "builtin-1";

    struct Session {
        int64_t max_lifetime_ms = 28'800'000;
        int64_t transport_lost_ttl_ms = 15'000;

        bool operator==(const Session &) const = default;
    } session;

    struct Volatility {
        int64_t heartbeat_interval_ms = 500;
        int64_t heartbeat_volatile_ms = 2'000;
        int64_t loss_window_ms = 2'000;
        double loss_volatile_threshold = 0.20;
        uint32_t max_consecutive_drops = 3;
        int64_t volatile_to_degraded_ms = 4'000;
        int64_t stability_window_ms = 3'000;
        std::optional<int64_t> latency_volatile_threshold_ms;  // off when empty
        std::optional<int64_t> jitter_volatile_threshold_ms;   // off when empty

        bool operator==(const Volatility &) const = default;
    } volatility;

    struct Switching {
        uint32_t max_switches_per_min = 8;
        int64_t switch_cooldown_ms = 1'500;
        int64_t recovery_window_ms = 8'000;
        double switch_improvement_factor = 1.10;

        bool operator==(const Switching &) const = default;
    } switching;

    struct Security {
        int64_t reattach_proof_max_age_ms = 5'000;
        uint32_t replay_window_size = 128;  // reattach nonces remembered per session

        bool operator==(const Security &) const = default;
    } security;

    struct Transport {
        LegacyRoaming legacy_roaming = LegacyRoaming::Allow;

        bool operator==(const Transport &) const = default;
    } transport;

    bool operator==(const Policy &) const = default;
};

// Keys that must be present in a policy file (STATE_MACHINE.md "Required fields").
inline constexpr std::string_view kRequiredPolicyKeys[] = {
    "session.max_lifetime_ms",
    "session.transport_lost_ttl_ms",
    "switching.max_switches_per_min",
    "switching.recovery_window_ms",
    "volatility.loss_volatile_threshold",
    "security.reattach_proof_max_age_ms",
};

// Upper bound on every policy duration (ms): 30 days. Deadlines are computed in int64 ms.
inline constexpr int64_t kMaxPolicyDurationMs = int64_t(30) * 24 * 3600 * 1000;

// Checks every bound of the contract, and kMaxPolicyDurationMs. The error's `where` is the
// offending key ("volatility.heartbeat_volatile_ms"), so callers can prefix their own path.
Status validate_policy(const Policy &p);

std::string_view legacy_roaming_name(LegacyRoaming r);

}  // namespace jg
