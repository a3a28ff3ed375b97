// Reason: every reason code the contract names (transitions, reattach validation, switch
// denials, security violations), as one list that yields the enum and the lower_snake names.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace jg {

#define JG_REASONS(X)                   \
    /* BIRTH -> ATTACHED */             \
    X(handshake_ok)                     \
    /* ATTACHED -> VOLATILE */          \
    X(loss_threshold_exceeded)          \
    X(heartbeat_timeout)                \
    X(consecutive_drop_exceeded)        \
    X(latency_threshold_exceeded)       \
    X(jitter_threshold_exceeded)        \
    X(address_change_observed)          \
    /* back to ATTACHED */              \
    X(health_recovered)                 \
    X(reattach_success)                 \
    /* into RECOVERING */               \
    X(reattach_requested)               \
    X(path_validation_started)          \
    /* into DEGRADED */                 \
    X(volatile_persisted)               \
    X(reattach_denied)                  \
    X(recovery_window_expired)          \
    /* into TERMINATED */               \
    X(session_lifetime_exceeded)        \
    X(transport_ttl_exceeded)           \
    X(explicit_termination)             \
    X(policy_termination)               \
    X(security_failure)                 \
    X(key_expired)                      \
    X(fatal_protocol_error)             \
    /* reattach validation, in order */ \
    X(unknown_session)                  \
    X(invalid_state_for_reattach)       \
    X(session_expired)                  \
    X(bad_proof)                        \
    X(replay_detected)                  \
    X(stale_request)                    \
    X(policy_denied)                    \
    X(invalid_transport_candidate)      \
    X(path_validation_failed)           \
    X(stale_state_version)              \
    /* transport switches */            \
    X(legacy_roaming)                   \
    X(path_improvement)                 \
    /* security violations */           \
    X(session_fixation_attempt)         \
    X(reattach_flood)                   \
    X(handshake_flood)

enum class Reason : uint8_t {
#define JG_X(r) r,
    JG_REASONS(JG_X)
#undef JG_X
};

inline constexpr int kReasonCount = 0
#define JG_X(r) +1
    JG_REASONS(JG_X)
#undef JG_X
    ;

constexpr std::string_view reason_name(Reason r) {
    switch (r) {
#define JG_X(r)     \
    case Reason::r: \
        return #r;
        JG_REASONS(JG_X)
#undef JG_X
    }
    return "?";
}

constexpr std::optional<Reason> parse_reason(std::string_view s) {
#define JG_X(r)  \
    if (s == #r) \
        return Reason::r;
    JG_REASONS(JG_X)
#undef JG_X
    return std::nullopt;
}

}  // namespace jg
