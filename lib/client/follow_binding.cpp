#include "client/follow_binding.hpp"

#include <algorithm>

#include "client/path_ranking.hpp"
#include "session/reason.hpp"
#include "session/reattach.hpp"
#include "session/switch_gate.hpp"

namespace jg::client {
namespace {

bool validating(const SessionRecord &s, const TransportAddr &to) {
    return s.state == SessionState::Recovering && s.pending.active && s.pending.candidate == to;
}

}  // namespace

bool follow_binding(const SessionRecord &s, const TransportAddr &to, const FollowInputs &in,
                    const std::function<void(const SessionEvent &)> &drive) {
    if (s.state == SessionState::Birth || s.state == SessionState::Terminated)
        return false;
    if (s.binding == to)
        return true;
    if (!validating(s, to)) {
        if (s.state == SessionState::Attached) {
            drive(AddressChangeObserved{to, in.challenge});
        } else {
            // A validation pending for another candidate is replaced: the gateway chose.
            ReattachRequest r;
            r.client_time_ms = in.now_ms;
            r.nonce = in.nonce;
            r.candidate = to;
            r.challenge = in.challenge;
            drive(r);
        }
        if (!validating(s, to))
            return s.binding == to;
    }
    drive(PathResponse{to, s.pending.challenge});
    return s.binding == to;
}

bool reconcile_binding(const SessionRecord &s, const TransportAddr &active, const Policy &policy,
                       const FollowInputs &in,
                       const std::function<void(const SessionEvent &)> &drive) {
    if (s.binding == active)
        return true;
    if (s.state == SessionState::Birth || s.state == SessionState::Terminated ||
        !transport_candidate_valid(active, s.binding) ||
        !check_switch_gate(s.switches, policy, in.now_ms).allowed)
        return false;
    if (s.state == SessionState::Recovering && !validating(s, active) &&
        in.now_ms >= s.recovery_deadline_ms)
        return false;
    return follow_binding(s, active, in, drive);
}

bool refusal_shows_binding(uint16_t reason, size_t path, std::span<const int64_t> challenged_ms,
                           int64_t active_last_rx_ms) {
    if (reason != uint16_t(Reason::invalid_state_for_reattach) &&
        reason != uint16_t(Reason::invalid_transport_candidate))
        return false;
    if (path >= challenged_ms.size() || challenged_ms[path] == kNeverHeard ||
        (active_last_rx_ms != kNeverHeard && challenged_ms[path] <= active_last_rx_ms))
        return false;
    return std::all_of(challenged_ms.begin(), challenged_ms.end(),
                       [&](int64_t t) { return t <= challenged_ms[path]; });
}

}  // namespace jg::client
