#include "session/reattach.hpp"

#include <algorithm>
#include <iterator>

namespace jg {

bool state_allows_reattach(SessionState s) {
    return s == SessionState::Volatile || s == SessionState::Degraded ||
           s == SessionState::Recovering;
}

int64_t transportless_age_ms(const SessionRecord &s, const Policy &p, int64_t now_ms) {
    if (s.last_rx_ms == kNever)
        return -1;
    const int64_t age = now_ms - s.last_rx_ms;
    return age >= p.volatility.heartbeat_volatile_ms ? age : -1;
}

bool transport_candidate_valid(const TransportAddr &c, const TransportAddr &binding) {
    if (!c.valid() || c.port == 0 || c == binding)
        return false;
    const size_t len = c.family == 4 ? 4 : 16;
    if (std::all_of(c.addr.begin(), c.addr.begin() + len, [](uint8_t b) { return b == 0; }))
        return false;  // unspecified
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is held to the IPv4 rules.
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const bool mapped = c.family == 6 && std::equal(std::begin(kMappedPrefix),
                                                    std::end(kMappedPrefix), c.addr.begin());
    if (c.family == 4 || mapped) {
        const uint8_t first = c.addr[mapped ? 12 : 0];
        if (first >= 224 || first == 127 || first == 0)
            return false;  // multicast, reserved, broadcast, loopback, "this network"
        return true;
    }
    static constexpr uint8_t kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (c.addr[0] == 0xff ||
        std::equal(std::begin(kLoopback6), std::end(kLoopback6), c.addr.begin()))
        return false;  // multicast, loopback
    return true;
}

ReattachVerdict check_reattach(const SessionRecord &s, const ReattachRequest &r, const Policy &p,
                               int64_t now_ms) {
    if (!r.session_known)
        return {Reason::unknown_session, {}};
    if (s.state == SessionState::Birth || s.state == SessionState::Attached)
        return {Reason::invalid_state_for_reattach, {}};
    if (s.state == SessionState::Terminated ||
        now_ms - s.created_at_ms >= p.session.max_lifetime_ms)
        return {Reason::session_expired, {}};
    const int64_t lost = transportless_age_ms(s, p, now_ms);
    if (lost >= 0 && lost >= p.session.transport_lost_ttl_ms)
        return {Reason::transport_ttl_exceeded, {}};
    if (!r.proof_ok)
        return {Reason::bad_proof, {}};
    if (!r.counter_in_window || s.nonces.contains(r.nonce, p.security.replay_window_size))
        return {Reason::replay_detected, {}};
    // The client's clock is the client's to set: a time too far off to subtract is stale too.
    int64_t skew = 0;
    const int64_t max_age = p.security.reattach_proof_max_age_ms;
    if (__builtin_sub_overflow(now_ms, r.client_time_ms, &skew) || skew > max_age ||
        skew < -max_age)
        return {Reason::stale_request, {}};
    if (s.state == SessionState::Recovering && now_ms >= s.recovery_deadline_ms)
        return {Reason::policy_denied,
                {false, "switching.recovery_window_ms",
                 static_cast<double>(p.switching.recovery_window_ms),
                 static_cast<double>(now_ms - s.state_entered_at_ms)}};
    if (const GateVerdict g = check_switch_gate(s.switches, p, now_ms); !g.allowed)
        return {Reason::policy_denied, g};
    if (!transport_candidate_valid(r.candidate, s.binding))
        return {Reason::invalid_transport_candidate, {}};
    return {};
}

}  // namespace jg
