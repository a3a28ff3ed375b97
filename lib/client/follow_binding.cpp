#include "client/follow_binding.hpp"

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

}  // namespace jg::client
