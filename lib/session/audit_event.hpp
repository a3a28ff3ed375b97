// AuditEvent: the audit contract's event types as C++ values (STATE_MACHINE.md "Audit
// events"). Produced by the FSM on the control core, rendered to JSON lines by lib/telemetry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "session/reason.hpp"
#include "session/state.hpp"
#include "session/transport.hpp"

namespace jg::audit {

struct SessionCreated {
    std::string peer;  // public key, WireGuard base64
    TransportAddr transport;
};
struct SessionStateChange {
    SessionState previous_state;
    SessionState new_state;
    Reason reason_code;
};
struct TransportSwitch {
    TransportAddr previous_transport;
    TransportAddr new_transport;
    Reason reason_code;
    int64_t switch_latency_ms = 0;  // VOLATILE entry (or first packet seen there) -> switch
    double loss_ratio = 0.0;        // of the previous transport, 0..1
    double rtt_ms = 0.0;            // of the previous transport
};
struct TransportSwitchDenied {
    TransportAddr candidate_transport;
    Reason reason_code;
};
struct ReattachAttempt {
    TransportAddr candidate_transport;
    int64_t recovery_deadline_ms = 0;  // absolute, same clock as ts_ms
};
struct ReattachResult {
    bool success = false;
    Reason reason_code;
};
struct KeyRotated {
    uint64_t key_epoch = 0;
};
struct SecurityEvent {
    Reason violation;    // replay_detected, bad_proof, session_fixation_attempt, ...
    std::string source;  // transport the offending packet came from
};
struct PolicyEvent {
    std::string policy_name;  // the policy key that decided, e.g. "switching.switch_cooldown_ms"
    double threshold_value = 0.0;
    double observed_value = 0.0;
};
struct SessionTerminated {
    Reason reason_code;
    int64_t session_age_ms = 0;
    int64_t transportless_age_ms = 0;
    uint32_t total_switches = 0;
};

using Payload = std::variant<SessionCreated, SessionStateChange, TransportSwitch,
                             TransportSwitchDenied, ReattachAttempt, ReattachResult, KeyRotated,
                             SecurityEvent, PolicyEvent, SessionTerminated>;

// node_id is added by the writer (one per process); everything else is known where the
// event is made.
struct Event {
    int64_t ts_ms = 0;
    uint64_t session_id = 0;
    uint64_t state_version = 0;
    std::string policy_version;
    Payload payload;
};

// "SessionCreated", "SessionStateChange", ...: the contract's PascalCase event_type.
std::string_view event_type_name(const Payload &p);

}  // namespace jg::audit
