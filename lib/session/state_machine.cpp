#include "session/state_machine.hpp"

#include <algorithm>
#include <array>

#include "session/reattach.hpp"

namespace jg {
namespace {

using S = SessionState;
using R = Reason;

constexpr R kTerminalReasons[] = {
    R::session_lifetime_exceeded, R::transport_ttl_exceeded, R::explicit_termination,
    R::policy_termination,        R::security_failure,       R::key_expired,
    R::fatal_protocol_error,
};

constexpr auto kTable = [] {
    std::array<Transition, 1 + 6 + 1 + 2 + 1 + 1 + 2 + 2 + 1 + 5 * 7> t{};
    size_t n = 0;
    t[n++] = {S::Birth, S::Attached, R::handshake_ok};
    for (R r :
         {R::loss_threshold_exceeded, R::heartbeat_timeout, R::consecutive_drop_exceeded,
          R::latency_threshold_exceeded, R::jitter_threshold_exceeded, R::address_change_observed})
        t[n++] = {S::Attached, S::Volatile, r};
    t[n++] = {S::Volatile, S::Attached, R::health_recovered};
    t[n++] = {S::Volatile, S::Recovering, R::reattach_requested};
    t[n++] = {S::Volatile, S::Recovering, R::path_validation_started};
    t[n++] = {S::Volatile, S::Degraded, R::volatile_persisted};
    t[n++] = {S::Recovering, S::Attached, R::reattach_success};
    t[n++] = {S::Recovering, S::Degraded, R::reattach_denied};
    t[n++] = {S::Recovering, S::Degraded, R::recovery_window_expired};
    t[n++] = {S::Degraded, S::Recovering, R::reattach_requested};
    t[n++] = {S::Degraded, S::Recovering, R::path_validation_started};
    t[n++] = {S::Degraded, S::Attached, R::health_recovered};
    for (S from : {S::Birth, S::Attached, S::Volatile, S::Recovering, S::Degraded})
        for (R r : kTerminalReasons)
            t[n++] = {from, S::Terminated, r};
    return t;
}();

// Authenticated reattach denials tolerated in one RECOVERING stay; the next one degrades.
constexpr uint32_t kRecoveryDenialsToDegrade = 2;

// One step's working set: the record, the policy, the clock and the result being built.
struct Stepper {
    SessionRecord &s;
    const Policy &p;
    int64_t now;
    StepResult &out;

    void emit(audit::Payload payload) {
        out.audit.emplace_back(
            audit::Event{now, s.session_id, s.state_version, p.version, std::move(payload)});
    }

    void hint(S state, R reason) {
        if (s.jumpgate_client)
            out.actions.emplace_back(SendStateHint{state, reason});
    }

    void enter(S to, R reason) {
        if (!transition_allowed(s.state, to, reason))
            std::abort();  // a bug in this file; the table tests prove it unreachable
        const S from = s.state;
        s.state = to;
        ++s.state_version;
        s.state_entered_at_ms = now;
        ++s.counters.transitions;
        emit(audit::SessionStateChange{from, to, reason});
        switch (to) {
            case S::Attached:
                s.volatile_since_ms = kNever;
                s.recovery_deadline_ms = kNever;
                s.pending = {};
                break;
            case S::Volatile:
                s.volatile_since_ms = now;
                s.healthy_since_ms = kNever;
                hint(S::Volatile, reason);
                break;
            case S::Recovering:
                s.recovery_deadline_ms = now + p.switching.recovery_window_ms;
                s.recovery_denials = 0;
                break;
            case S::Degraded:
                s.healthy_since_ms = kNever;
                s.recovery_deadline_ms = kNever;
                s.pending = {};
                hint(S::Degraded, reason);
                break;
            case S::Terminated:
            case S::Birth:
                break;
        }
        out.new_state = to;
    }

    void terminate(R reason) {
        const int64_t lost = transportless_age_ms(s, p, now);
        enter(S::Terminated, reason);
        s.termination_reason = reason;
        s.pending = {};
        emit(audit::SessionTerminated{reason, s.created_at_ms == kNever ? 0 : now - s.created_at_ms,
                                      lost < 0 ? 0 : lost, s.counters.total_switches});
        out.actions.emplace_back(Terminate{reason});
    }

    // The one place a binding changes (RECOVERING -> ATTACHED and legacy roaming).
    void switch_binding(const TransportAddr &to, R reason) {
        const TransportAddr from = s.binding;
        // No VOLATILE episode (a stock peer roaming while ATTACHED): the switch follows the
        // first packet seen at the new address, so it took no time. Not the time since the
        // session became ATTACHED, which may be hours.
        const int64_t episode = s.volatile_since_ms != kNever ? s.volatile_since_ms : now;
        s.binding = to;
        ++s.state_version;
        s.switches.record(now);
        ++s.counters.total_switches;
        emit(audit::TransportSwitch{from, to, reason, now - episode, s.health.loss_ratio,
                                    s.health.rtt_ms});
        out.actions.emplace_back(SwitchBinding{from, to});
        // The new path proved itself by answering; its health history starts now.
        s.path = PathHealth(p.volatility.loss_window_ms);
        s.health = {};
        s.last_rx_ms = now;
        s.transportless_since_ms = kNever;
        s.healthy_since_ms = now;
    }

    void deny_switch(const TransportAddr &candidate, const GateVerdict &g) {
        ++s.counters.switches_denied;
        emit(audit::TransportSwitchDenied{candidate, R::policy_denied});
        emit(audit::PolicyEvent{std::string(g.policy_key), g.threshold, g.observed});
    }

    void reattach_result(const TransportAddr &to, bool accepted, R reason) {
        emit(audit::ReattachResult{accepted, reason});
        out.actions.emplace_back(SendReattachResult{to, accepted, reason, s.state_version});
    }

    void security_event(R violation, const TransportAddr &source) {
        ++s.counters.security_events;
        emit(audit::SecurityEvent{violation, source.to_string()});
    }

    void authenticated_denial() {
        ++s.counters.reattach_denied;
        if (s.state != S::Recovering)
            return;
        if (++s.recovery_denials >= kRecoveryDenialsToDegrade)
            enter(S::Degraded, R::reattach_denied);
    }

    void start_validation(const TransportAddr &candidate, const PathChallenge &challenge,
                          bool from_reattach, R enter_reason, R switch_reason) {
        if (s.state != S::Recovering)
            enter(S::Recovering, enter_reason);
        s.pending = {true, from_reattach, switch_reason, candidate, challenge};
        emit(audit::ReattachAttempt{candidate, s.recovery_deadline_ms});
        out.actions.emplace_back(SendPathChallenge{candidate, challenge});
    }

    // The first threshold the current snapshot crosses, or health_recovered when none.
    R judge_health() const { return judge(s.health); }

    R judge(const HealthSnapshot &h) const {
        const auto &v = p.volatility;
        if (h.loss_ratio > v.loss_volatile_threshold)
            return R::loss_threshold_exceeded;
        if (h.consecutive_drops > v.max_consecutive_drops)
            return R::consecutive_drop_exceeded;
        if (v.latency_volatile_threshold_ms &&
            h.rtt_ms > static_cast<double>(*v.latency_volatile_threshold_ms))
            return R::latency_threshold_exceeded;
        if (v.jitter_volatile_threshold_ms &&
            h.jitter_ms > static_cast<double>(*v.jitter_volatile_threshold_ms))
            return R::jitter_threshold_exceeded;
        return R::health_recovered;
    }

    void threshold_event(R reason) {
        const auto &v = p.volatility;
        const auto &h = s.health;
        switch (reason) {
            case R::loss_threshold_exceeded:
                emit(audit::PolicyEvent{"volatility.loss_volatile_threshold",
                                        v.loss_volatile_threshold, h.loss_ratio});
                break;
            case R::consecutive_drop_exceeded:
                emit(audit::PolicyEvent{"volatility.max_consecutive_drops",
                                        static_cast<double>(v.max_consecutive_drops),
                                        static_cast<double>(h.consecutive_drops)});
                break;
            case R::latency_threshold_exceeded:
                emit(audit::PolicyEvent{"volatility.latency_volatile_threshold_ms",
                                        static_cast<double>(*v.latency_volatile_threshold_ms),
                                        h.rtt_ms});
                break;
            case R::jitter_threshold_exceeded:
                emit(audit::PolicyEvent{"volatility.jitter_volatile_threshold_ms",
                                        static_cast<double>(*v.jitter_volatile_threshold_ms),
                                        h.jitter_ms});
                break;
            default:
                break;
        }
    }

    bool rx_alive() const {
        return s.last_rx_ms != kNever && now - s.last_rx_ms < p.volatility.heartbeat_volatile_ms;
    }

    void maybe_recovered() {
        if (s.state != S::Volatile && s.state != S::Degraded)
            return;
        if (s.healthy_since_ms != kNever && rx_alive() &&
            now - s.healthy_since_ms >= p.volatility.stability_window_ms)
            enter(S::Attached, R::health_recovered);
    }

    void evaluate_health() {
        const R verdict = judge_health();
        if (verdict != R::health_recovered || !rx_alive()) {
            s.healthy_since_ms = kNever;
            if (s.state == S::Attached && verdict != R::health_recovered) {
                threshold_event(verdict);
                enter(S::Volatile, verdict);
            }
            return;
        }
        if (s.healthy_since_ms == kNever)
            s.healthy_since_ms = now;
        maybe_recovered();
    }

    // ---- one handler per event ----

    // Handlers run only after step() has filtered TERMINATED and, except for the handshake,
    // BIRTH.
    void on(const HandshakeCompleted &e) {
        if (s.state == S::Birth) {
            s.binding = e.from;
            s.key_epoch = e.key_epoch;
            s.created_at_ms = now;
            s.last_rx_ms = now;
            s.healthy_since_ms = now;
            s.path = PathHealth(p.volatility.loss_window_ms);
            emit(audit::SessionCreated{e.peer, e.from});
            enter(S::Attached, R::handshake_ok);
            return;
        }
        // A re-handshake rotates keys inside the session: identity and history survive.
        s.key_epoch = e.key_epoch;
        ++s.counters.key_rotations;
        emit(audit::KeyRotated{e.key_epoch});
    }

    void on(const HelloReceived &) {
        s.jumpgate_client = true;
        out.actions.emplace_back(SendHelloAck{s.session_id, s.state, s.state_version});
    }

    void on(const HeartbeatReceived &e) {
        const int64_t heard = now - std::max<int64_t>(e.heard_ms_ago, 0);
        if (s.last_rx_ms == kNever || heard > s.last_rx_ms)
            s.last_rx_ms = heard;
        s.transportless_since_ms = kNever;
        s.path.set_loss_window(p.volatility.loss_window_ms);
        s.path.on_heartbeat(now, e.seq, e.rtt_ms);
        if (e.rx_packets != 0 || e.counter_gaps != 0 || e.gaps_filled != 0) {
            s.path.on_rx(now, e.rx_packets, e.counter_gaps, e.gaps_filled);
            s.health.loss_ratio = s.path.snapshot(now).loss_ratio;
        }
        if (e.rtt_ms >= 0.0) {
            s.health.rtt_ms = s.path.rtt().srtt_ms();
            s.health.jitter_ms = s.path.rtt().jitter_ms();
        }
        if (e.seq != 0)
            s.health.consecutive_drops = s.path.consecutive_drops();
        evaluate_health();
    }

    void on(const HealthSample &e) {
        s.health = {e.loss_ratio, e.rtt_ms, e.jitter_ms, e.consecutive_drops};
        evaluate_health();
    }

    void on(const TimerTick &) {
        if (now - s.created_at_ms >= p.session.max_lifetime_ms) {
            terminate(R::session_lifetime_exceeded);
            return;
        }
        // A stock WireGuard peer sends nothing while its user is idle (no heartbeats, keepalives
        // only if configured), so its silence is no evidence of a lost transport: its session
        // ends by key expiry or lifetime instead.
        const int64_t lost = s.jumpgate_client ? transportless_age_ms(s, p, now) : -1;
        if (lost >= 0) {
            if (s.transportless_since_ms == kNever)
                s.transportless_since_ms = s.last_rx_ms;
            s.healthy_since_ms = kNever;
            if (lost >= p.session.transport_lost_ttl_ms) {
                terminate(R::transport_ttl_exceeded);
                return;
            }
        }
        switch (s.state) {
            case S::Attached:
                if (lost >= 0) {
                    emit(audit::PolicyEvent{"volatility.heartbeat_volatile_ms",
                                            static_cast<double>(p.volatility.heartbeat_volatile_ms),
                                            static_cast<double>(lost)});
                    enter(S::Volatile, R::heartbeat_timeout);
                }
                break;
            case S::Volatile:
                if (now - s.state_entered_at_ms >= p.volatility.volatile_to_degraded_ms)
                    enter(S::Degraded, R::volatile_persisted);
                else
                    maybe_recovered();
                break;
            case S::Recovering:
                if (now >= s.recovery_deadline_ms) {
                    if (s.pending.active && s.pending.from_reattach)
                        reattach_result(s.pending.candidate, false, R::path_validation_failed);
                    enter(S::Degraded, R::recovery_window_expired);
                }
                break;
            case S::Degraded:
                maybe_recovered();
                break;
            case S::Birth:
            case S::Terminated:
                break;
        }
    }

    void on(const AddressChangeObserved &e) {
        // One validation at a time: while RECOVERING the client's own REATTACH decides, and
        // no other switch may slip between the gate check and the PATH_RESPONSE.
        if (s.state == S::Recovering || e.from == s.binding) {
            out.outcome = StepOutcome::Ignored;
            return;
        }
        if (!s.jumpgate_client) {
            legacy_roam(e.from);
            return;
        }
        if (!transport_candidate_valid(e.from, s.binding)) {
            out.outcome = StepOutcome::Ignored;
            return;
        }
        if (const GateVerdict g = check_switch_gate(s.switches, p, now); !g.allowed) {
            deny_switch(e.from, g);
            return;
        }
        if (s.state == S::Attached)
            enter(S::Volatile, R::address_change_observed);
        start_validation(e.from, e.challenge, false, R::path_validation_started,
                         R::address_change_observed);
    }

    // A stock WireGuard peer roams by just sending from elsewhere; the outbound binding
    // follows through the same gate and is audited as a switch (PROTOCOL.md).
    void legacy_roam(const TransportAddr &to) {
        if (p.transport.legacy_roaming == LegacyRoaming::Deny) {
            deny_switch(to, {false, "transport.legacy_roaming", 0.0, 1.0});
            return;
        }
        if (const GateVerdict g = check_switch_gate(s.switches, p, now); !g.allowed) {
            deny_switch(to, g);
            return;
        }
        switch_binding(to, R::legacy_roaming);
    }

    void on(const ReattachRequest &e) {
        const ReattachVerdict v = check_reattach(s, e, p, now);
        const TransportAddr &from = e.candidate;
        switch (v.reason) {
            case R::reattach_success:
                break;
            case R::unknown_session:
                // Authenticated under this session's keys yet naming another session: an
                // attempt to take that one over (STATE_MACHINE.md's session_fixation_attempt),
                // audited as this session's (a terminated one's log ends with its denials).
                // The denial itself is about no known session: the audit contract names it
                // with the all-zero id.
                if (s.state != S::Terminated)
                    security_event(R::session_fixation_attempt, from);
                reattach_result(from, false, v.reason);
                out.audit.back().session_id = 0;
                out.audit.back().state_version = 0;
                return;
            case R::invalid_state_for_reattach:
            case R::stale_request:
                reattach_result(from, false, v.reason);
                return;
            case R::session_expired:
                reattach_result(from, false, v.reason);
                if (s.state == S::Terminated)
                    out.outcome = StepOutcome::Rejected;
                else
                    terminate(R::session_lifetime_exceeded);
                return;
            case R::transport_ttl_exceeded:
                reattach_result(from, false, v.reason);
                terminate(R::transport_ttl_exceeded);
                return;
            case R::bad_proof:
            case R::replay_detected:
                security_event(v.reason, from);
                reattach_result(from, false, v.reason);
                return;
            case R::policy_denied:
                s.nonces.insert(e.nonce);
                ++s.counters.reattach_requests;
                deny_switch(from, v.gate);
                reattach_result(from, false, v.reason);
                authenticated_denial();
                return;
            default:  // invalid_transport_candidate
                s.nonces.insert(e.nonce);
                ++s.counters.reattach_requests;
                reattach_result(from, false, v.reason);
                authenticated_denial();
                return;
        }
        s.nonces.insert(e.nonce);
        ++s.counters.reattach_requests;
        start_validation(from, e.challenge, true, R::reattach_requested, R::reattach_success);
    }

    void on(const PathResponse &e) {
        if (s.state != S::Recovering || !s.pending.active || e.from != s.pending.candidate) {
            out.outcome = StepOutcome::Ignored;
            return;
        }
        const PendingValidation pv = s.pending;
        if (e.echoed != pv.challenge) {
            s.pending = {};
            if (pv.from_reattach)
                reattach_result(pv.candidate, false, R::path_validation_failed);
            authenticated_denial();
            return;
        }
        // The gate passed when the validation started; a policy reloaded since may be
        // stricter, and the switch happens under the policy in force now.
        if (const GateVerdict g = check_switch_gate(s.switches, p, now); !g.allowed) {
            s.pending = {};
            deny_switch(pv.candidate, g);
            if (pv.from_reattach)
                reattach_result(pv.candidate, false, R::policy_denied);
            authenticated_denial();
            return;
        }
        // The switch is named after what moved the session (audit_check reads it so).
        switch_binding(pv.candidate, pv.switch_reason);
        enter(S::Attached, R::reattach_success);
        if (pv.from_reattach) {
            ++s.counters.reattach_accepted;
            reattach_result(pv.candidate, true, R::reattach_success);
        }
    }

    void on(const CandidatePathReport &e) {
        const bool may_move = s.state == S::Volatile || s.state == S::Degraded;
        if (!s.jumpgate_client || !may_move || !transport_candidate_valid(e.candidate, s.binding)) {
            out.outcome = StepOutcome::Ignored;
            return;
        }
        if (judge(e.health) != R::health_recovered ||
            !improvement_justifies_switch(path_score(s.health), path_score(e.health), p))
            return;  // not worth a switch: nothing to do, nothing to audit
        if (const GateVerdict g = check_switch_gate(s.switches, p, now); !g.allowed) {
            deny_switch(e.candidate, g);
            return;
        }
        start_validation(e.candidate, e.challenge, false, R::path_validation_started,
                         R::path_improvement);
    }

    void on(const TerminationRequested &e) {
        if (!is_terminal_reason(e.reason)) {
            out.outcome = StepOutcome::Rejected;
            out.rejected_because = R::fatal_protocol_error;
            return;
        }
        terminate(e.reason);
    }

    void on(const KeyExpired &) { terminate(R::key_expired); }
};

}  // namespace

std::span<const Transition> transition_table() {
    return kTable;
}

bool transition_allowed(SessionState from, SessionState to, Reason reason) {
    for (const Transition &t : kTable)
        if (t.from == from && t.to == to && t.reason == reason)
            return true;
    return false;
}

bool is_terminal_reason(Reason r) {
    for (R t : kTerminalReasons)
        if (t == r)
            return true;
    return false;
}

std::string_view step_outcome_name(StepOutcome o) {
    switch (o) {
        case StepOutcome::Applied:
            return "applied";
        case StepOutcome::Ignored:
            return "ignored";
        case StepOutcome::Rejected:
            return "rejected";
    }
    return "?";
}

StepResult step(SessionRecord &s, const SessionEvent &e, const Policy &policy, int64_t now_ms) {
    StepResult out;
    out.new_state = s.state;
    Stepper st{s, policy, now_ms, out};
    if (s.state == S::Terminated) {
        // Nothing is accepted after TERMINATED; a reattach still gets its denial so the
        // client stops retrying.
        out.outcome = StepOutcome::Rejected;
        out.rejected_because = R::session_expired;
        if (const auto *r = std::get_if<ReattachRequest>(&e))
            st.on(*r);
        return out;
    }
    if (s.state == S::Birth && !std::holds_alternative<HandshakeCompleted>(e)) {
        // BIRTH has no session object yet (STATE_MACHINE.md): only a handshake means anything.
        // The table's BIRTH -> TERMINATED row is for a peer's half-open handshake state,
        // which the control core drops without a session, hence without audit events.
        out.outcome = StepOutcome::Ignored;
        return out;
    }
    std::visit([&](const auto &ev) { st.on(ev); }, e);
    return out;
}

StepResult step_if_version(SessionRecord &s, uint64_t expected_version, const SessionEvent &e,
                           const Policy &policy, int64_t now_ms) {
    if (s.state_version != expected_version) {
        StepResult out;
        out.new_state = s.state;
        out.outcome = StepOutcome::Rejected;
        out.rejected_because = R::stale_state_version;
        return out;
    }
    return step(s, e, policy, now_ms);
}

std::string_view event_kind_name(int index) {
    static constexpr std::string_view kNames[] = {
        "handshake", "hello",          "heartbeat",        "health_sample",
        "tick",      "address_change", "reattach_request", "path_response",
        "terminate", "key_expired",    "candidate_report",
    };
    static_assert(std::size(kNames) == std::variant_size_v<SessionEvent>);
    return index >= 0 && index < kSessionEventKinds ? kNames[index] : "?";
}

std::string_view event_kind_name(const SessionEvent &e) {
    return event_kind_name(static_cast<int>(e.index()));
}

SessionRecord make_session(uint64_t session_id, std::string profile) {
    SessionRecord s;
    s.session_id = session_id;
    s.profile = std::move(profile);
    return s;
}

}  // namespace jg
