// Following the gateway's binding. The gateway is the side that switches: once it has moved
// the session to one of the client's paths (an accepted REATTACH_RESULT arrived there, or
// inner traffic or keepalives, which it sends only to its binding), the client must send from
// that path too, whatever its own machine was doing: waiting on another candidate, past its
// recovery window, or still ATTACHED on a path that died. Pure; the client's loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "session/policy.hpp"
#include "session/session_event.hpp"
#include "session/session_record.hpp"

namespace jg::client {

// Fresh inputs the events may need: a random challenge and nonce (the machine's replay set
// must not see the nonce twice) and the machine's current time (timer ms).
struct FollowInputs {
    PathChallenge challenge{};
    uint64_t nonce = 0;
    int64_t now_ms = 0;
};

// Feeds the client's own machine, through `drive` (one step() of `s`, actions applied), the
// events that move its binding to `to` the way the gateway's moved: a reattach of its own
// answered at once (an address change while ATTACHED), so its log shows the switch. Returns
// whether `s` is bound to `to` afterwards; false when the machine refuses (terminated, or its
// own switching policy denies the move, which it audits).
bool follow_binding(const SessionRecord &s, const TransportAddr &to, const FollowInputs &in,
                    const std::function<void(const SessionEvent &)> &drive);

// The gateway moved the session to `active` while the machine's own switching policy refused to
// record it (follow_binding returned false): the client sends from `active` while the machine
// names another binding. Records the move through follow_binding once that policy allows it
// (the switch gate open, inside a recovery window, a valid candidate), so the two do not stay
// apart: a candidate equal to the machine's binding could never be reattached to. Drives
// nothing, and so audits nothing, while the policy would still refuse. Returns whether `s` is
// bound to `active` afterwards.
bool reconcile_binding(const SessionRecord &s, const TransportAddr &active, const Policy &policy,
                       const FollowInputs &in,
                       const std::function<void(const SessionEvent &)> &drive);

// Whether a REATTACH_REQUEST on path `path` refused with `reason` shows the gateway already
// bound there (ATTACHED on it: invalid_state_for_reattach; or it is the binding:
// invalid_transport_candidate). A bare refusal does not: the gateway may be ATTACHED on
// another path after a lost accepted result, and loopback, multicast or unspecified
// candidates are refused with the same reason. Only a path the gateway validated since the
// active path last heard it, the latest such, counts: `challenged_ms[i]` is when the client
// last answered a PATH_CHALLENGE on path i (kNeverHeard: never), `active_last_rx_ms` when
// the active path last heard the gateway (timer ms).
bool refusal_shows_binding(uint16_t reason, size_t path, std::span<const int64_t> challenged_ms,
                           int64_t active_last_rx_ms);

}  // namespace jg::client
