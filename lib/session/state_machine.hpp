// The session state machine of STATE_MACHINE.md as a pure function: step(record, event,
// policy, now) -> new state, actions, audit events. Control core only (one writer per record);
// deterministic: no clock reads, no randomness, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <variant>

#include "session/audit_event.hpp"
#include "session/bounded_list.hpp"
#include "session/policy.hpp"
#include "session/reason.hpp"
#include "session/session_event.hpp"
#include "session/session_record.hpp"
#include "session/state.hpp"

namespace jg {

// ---- The contract's transition table, one row per (from, to, reason) ----
struct Transition {
    SessionState from;
    SessionState to;
    Reason reason;
};
std::span<const Transition> transition_table();
bool transition_allowed(SessionState from, SessionState to, Reason reason);
bool is_terminal_reason(Reason r);

// ---- What the caller must do after a step (in order) ----
struct SendPathChallenge {
    TransportAddr to;
    PathChallenge data;
};
struct SwitchBinding {
    TransportAddr from;
    TransportAddr to;
};
struct SendStateHint {  // STATE_HINT to a jumpgate client
    SessionState state;
    Reason reason;
};
struct SendReattachResult {
    TransportAddr to;
    bool accepted;
    Reason reason;
    uint64_t state_version;
};
struct Terminate {  // unpublish the session, send TERMINATE to a jumpgate client
    Reason reason;
};
struct SendHelloAck {
    uint64_t session_id;
    SessionState state;
    uint64_t state_version;
};
using Action = std::variant<SendPathChallenge, SwitchBinding, SendStateHint, SendReattachResult,
                            Terminate, SendHelloAck>;

enum class StepOutcome : uint8_t {
    Applied,   // the event was acted on (possibly only audited)
    Ignored,   // meaningless in this state; nothing changed, nothing emitted
    Rejected,  // the contract refuses it (after TERMINATED, bad termination reason, CAS miss)
};
std::string_view step_outcome_name(StepOutcome o);

// Capacities cover the busiest step (a reattach success: switch + transition + result, or a
// denial that degrades: denied + policy + result + transition + hint).
struct StepResult {
    StepOutcome outcome = StepOutcome::Applied;
    Reason rejected_because = Reason::fatal_protocol_error;  // when outcome == Rejected
    SessionState new_state = SessionState::Birth;
    BoundedList<Action, 6> actions;
    BoundedList<audit::Event, 8> audit;
};

// Runs one event at now_ms under `policy` (the profile's current policy: a reload applies at
// the next call). Every transition bumps state_version by one and emits one SessionStateChange;
// so does every binding change (TransportSwitch).
StepResult step(SessionRecord &s, const SessionEvent &e, const Policy &policy, int64_t now_ms);

// Compare-and-swap form for gateways sharing sessions: rejected with stale_state_version
// unless the record is still at expected_version.
StepResult step_if_version(SessionRecord &s, uint64_t expected_version, const SessionEvent &e,
                           const Policy &policy, int64_t now_ms);

}  // namespace jg
