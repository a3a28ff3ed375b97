// AuditEvent: the audit contract's event types as C++ values (STATE_MACHINE.md "Audit
// events"). Produced by the FSM on the control core, rendered to JSON lines by lib/telemetry.
#pragma once

// Audit log contract (the FSM emits it, telemetry's audit_check verifies it):
// - JSON line base fields: ts_ms (int), event_type, node_id, policy_version, session_id
//   (16 lowercase hex digits: JSON numbers lose precision above 2^53; all zeros for events
//   about no known session), state_version (int). States upper-case ("ATTACHED"), reasons
//   lower_snake, transports "198.51.100.7:51820" / "[2001:db8::1]:51820", ReattachResult
//   status "SUCCESS" / "DENIED".
// - SessionCreated carries state_version 0 (BIRTH) and is immediately followed by
//   SessionStateChange BIRTH->ATTACHED handshake_ok at version 1.
// - Every SessionStateChange and every TransportSwitch increments state_version by exactly 1
//   and carries the new version; every other event carries the current version unchanged.
// - A successful reattach / validated NAT rebinding emits TransportSwitch (v+1; previous =
//   current binding; reason reattach_success for an explicit REATTACH, address_change_observed
//   for a gateway-validated rebinding), then SessionStateChange RECOVERING->ATTACHED
//   reattach_success (v+2). Legacy roaming of a stock peer emits only a TransportSwitch with
//   reason legacy_roaming. The binding never changes any other way.
// - Termination: SessionStateChange X->TERMINATED, then SessionTerminated (same reason, same
//   version). Afterwards only ReattachResult DENIED, SecurityEvent or TransportSwitchDenied
//   may name the session.
// - TransportSwitch events of one session: at most switching.max_switches_per_min in any
//   60000 ms window, consecutive ones >= switching.switch_cooldown_ms apart. A denied switch
//   is a TransportSwitchDenied (policy_denied) plus a PolicyEvent naming the deciding key.

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
