// SessionEvent: everything that can happen to a session, as the facts the control core has
// already established (authentication, freshness inputs, random bytes). Value types; made by
// the control core (or a scenario script) and consumed by step() on the same core.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "session/health.hpp"
#include "session/reason.hpp"
#include "session/transport.hpp"

namespace jg {

// PATH_CHALLENGE payload; the caller draws it from a CSPRNG so step() stays deterministic.
using PathChallenge = std::array<uint8_t, 8>;

// A WireGuard handshake completed: creates the session in BIRTH, rotates keys otherwise.
struct HandshakeCompleted {
    TransportAddr from;
    std::string peer;  // static public key, base64 (SessionCreated.peer)
    uint64_t key_epoch = 0;
};

// HELLO: the peer speaks the jumping extensions (heartbeats, reattach, path validation).
struct HelloReceived {};

// Traffic on the active binding. seq 0 = no sequence (a stock peer's keepalive or data, the
// control core reports those too); rtt_ms < 0 = no RTT sample; rx_packets/counter_gaps are the
// worker's receive report since the previous one (feeds the loss window).
struct HeartbeatReceived {
    uint64_t seq = 0;
    double rtt_ms = -1.0;
    uint32_t rx_packets = 0;
    uint32_t counter_gaps = 0;
    // How long before the event the newest of these packets arrived (ms): traffic found by a
    // periodic sample is dated when it came, not when it was noticed.
    int64_t heard_ms_ago = 0;
    // Gaps an earlier report counted that late packets among rx_packets have filled since
    // (the worker's net gap count went down by this much): reordering, not loss.
    uint32_t gaps_filled = 0;
};

// Health figures computed elsewhere (the client's own estimates in HEARTBEAT, or a periodic
// estimator run); they replace the current snapshot.
struct HealthSample {
    double loss_ratio = 0.0;
    double rtt_ms = 0.0;
    double jitter_ms = 0.0;
    uint32_t consecutive_drops = 0;
};

// Drives every timer (heartbeat timeout, VOLATILE/RECOVERING deadlines, stability window, TTLs).
struct TimerTick {};

// An authenticated, in-window packet of this session arrived from an address that is not the
// binding.
struct AddressChangeObserved {
    TransportAddr from;
    PathChallenge challenge{};  // used if path validation starts
};

// REATTACH_REQUEST as the control core saw it: authentication and counter checks are done by
// the data plane; step() applies the contract's order to these facts.
struct ReattachRequest {
    bool session_known = true;
    bool proof_ok = true;           // AEAD verified under the session's keys
    bool counter_in_window = true;  // transport counter passed the replay window
    int64_t client_time_ms = 0;     // the client's clock, same epoch as now_ms
    uint64_t nonce = 0;
    TransportAddr candidate;            // where the request came from
    uint64_t client_state_version = 0;  // informational only (STATE_MACHINE.md)
    PathChallenge challenge{};
};

// PATH_RESPONSE received from `from`, echoing `echoed`.
struct PathResponse {
    TransportAddr from;
    PathChallenge echoed{};
};

// Health of another path the peer could use (a jumpgate client's heartbeats on a second path
// id). A policy-driven switch candidate: taken only from VOLATILE or DEGRADED (the contract
// has no way out of a healthy ATTACHED into RECOVERING), only if the candidate is itself
// within the volatility thresholds and its path_score beats the current path's by
// switching.switch_improvement_factor.
struct CandidatePathReport {
    TransportAddr candidate;
    HealthSnapshot health;
    PathChallenge challenge{};  // used if path validation starts
};

// TERMINATE from the peer or an operator/policy decision; `reason` must be a terminal reason.
struct TerminationRequested {
    Reason reason = Reason::explicit_termination;
};

// The session's keys reached REJECT_AFTER_TIME without a new handshake.
struct KeyExpired {};

using SessionEvent =
    std::variant<HandshakeCompleted, HelloReceived, HeartbeatReceived, HealthSample, TimerTick,
                 AddressChangeObserved, ReattachRequest, PathResponse, TerminationRequested,
                 KeyExpired, CandidatePathReport>;

inline constexpr int kSessionEventKinds = static_cast<int>(std::variant_size_v<SessionEvent>);

// "handshake", "hello", "heartbeat", "health_sample", "tick", "address_change",
// "reattach_request", "path_response", "terminate", "key_expired", "candidate_report" (the
// scenario spelling).
std::string_view event_kind_name(const SessionEvent &e);
std::string_view event_kind_name(int index);

}  // namespace jg
