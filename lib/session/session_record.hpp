// SessionRecord: everything the control core keeps about one session between events (state,
// version, the one binding, timers' anchors, switch and nonce history, health, counters).
// One writer: the control core (via step()); others read copies.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "session/health.hpp"
#include "session/reason.hpp"
#include "session/reattach_nonces.hpp"
#include "session/session_event.hpp"
#include "session/state.hpp"
#include "session/switch_gate.hpp"
#include "session/transport.hpp"

namespace jg {

// A timestamp that has not happened.
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

// The path validation in flight while RECOVERING.
struct PendingValidation {
    bool active = false;
    bool from_reattach = false;  // answer with REATTACH_RESULT (false: NAT rebinding)
    // TransportSwitch reason on success: reattach_success, address_change_observed or
    // path_improvement.
    Reason switch_reason = Reason::reattach_success;
    TransportAddr candidate;
    PathChallenge challenge{};
};

struct SessionCounters {
    uint32_t transitions = 0;
    uint32_t total_switches = 0;
    uint32_t switches_denied = 0;
    uint32_t reattach_requests = 0;  // that passed authentication and freshness
    uint32_t reattach_accepted = 0;
    uint32_t reattach_denied = 0;  // authenticated denials only
    uint32_t security_events = 0;
    uint32_t key_rotations = 0;
};

// All times in ms on the caller's clock (the one step() receives as now_ms).
struct SessionRecord {
    uint64_t session_id = 0;
    std::string profile = "default";  // PolicySet profile name
    SessionState state = SessionState::Birth;
    uint64_t state_version = 0;
    TransportAddr binding;         // the only active binding; !valid() before the handshake
    bool jumpgate_client = false;  // said HELLO
    uint64_t key_epoch = 0;

    int64_t created_at_ms = kNever;
    int64_t state_entered_at_ms = kNever;
    int64_t last_rx_ms = kNever;              // on the active binding
    int64_t transportless_since_ms = kNever;  // last rx on a binding found dead
    int64_t volatile_since_ms = kNever;       // entry of the current volatility episode
    int64_t healthy_since_ms = kNever;        // start of the current run of healthy samples
    int64_t recovery_deadline_ms = kNever;    // RECOVERING only

    uint32_t recovery_denials = 0;  // authenticated denials in the current RECOVERING stay
    Reason termination_reason = Reason::explicit_termination;  // meaningful in TERMINATED

    HealthSnapshot health;  // of the active binding
    PathHealth path;
    PendingValidation pending;
    SwitchHistory switches;
    ReattachNonces nonces;
    SessionCounters counters;
};

// A session in BIRTH, waiting for its first handshake.
SessionRecord make_session(uint64_t session_id, std::string profile = "default");

}  // namespace jg
