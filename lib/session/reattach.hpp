// Reattach validation in the contract's order (STATE_MACHINE.md "Reattach validation"): the
// first failing check decides. Pure; control core (or tests) only.
#pragma once

#include <cstdint>

#include "session/policy.hpp"
#include "session/reason.hpp"
#include "session/session_event.hpp"
#include "session/session_record.hpp"
#include "session/switch_gate.hpp"

namespace jg {

struct ReattachVerdict {
    // reattach_success when every check up to the candidate passed (path validation is still
    // to come); otherwise the first failing check.
    Reason reason = Reason::reattach_success;
    GateVerdict gate;  // the deciding policy key when reason == policy_denied
    bool ok() const { return reason == Reason::reattach_success; }
};

// States a REATTACH_REQUEST can start (or, in RECOVERING, redirect) a recovery from.
bool state_allows_reattach(SessionState s);

// unknown_session -> invalid_state_for_reattach -> session_expired -> transport_ttl_exceeded
// -> bad_proof -> replay_detected / stale_request -> policy_denied -> invalid_transport_candidate.
// A TERMINATED session is past its life: session_expired.
ReattachVerdict check_reattach(const SessionRecord &s, const ReattachRequest &r, const Policy &p,
                               int64_t now_ms);

// A plausible unicast destination other than the current binding.
bool transport_candidate_valid(const TransportAddr &candidate, const TransportAddr &binding);

// ms since the active binding last received while it counts as lost, else -1.
int64_t transportless_age_ms(const SessionRecord &s, const Policy &p, int64_t now_ms);

}  // namespace jg
