#include "telemetry/audit_check.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "session/state_machine.hpp"
#include "session/switch_gate.hpp"
#include "telemetry/audit_json.hpp"

namespace jg {
namespace {

using S = SessionState;
using R = Reason;

std::string str(std::string_view s) {
    return std::string(s);
}
std::string str(S s) {
    return str(state_name(s));
}
std::string str(R r) {
    return str(reason_name(r));
}

// What the contract says must come next for a session, and where that was decided.
enum class Expect {
    Nothing,
    HandshakeOk,         // after SessionCreated: BIRTH -> ATTACHED handshake_ok
    Terminated,          // after X -> TERMINATED: SessionTerminated, same reason and version
    ReattachCompletion,  // after a reattach switch: RECOVERING -> ATTACHED reattach_success
};

struct SessionTrack {
    S state = S::Birth;
    uint64_t version = 0;
    size_t version_line = 0;  // line of the event that set `version`
    TransportAddr binding;
    size_t created_line = 0;
    bool terminated = false;  // a change to TERMINATED was seen
    size_t terminated_line = 0;
    R termination_reason = R::explicit_termination;
    std::deque<int64_t> switch_times;  // TransportSwitch ts_ms inside the rate window
    size_t last_switch_line = 0;
    Expect expect = Expect::Nothing;
    size_t expect_line = 0;
    // A policy denial is a TransportSwitchDenied directly followed by its PolicyEvent.
    size_t policy_event_due_line = 0;
};

bool is_versioned(const audit::Payload &p) {
    return std::holds_alternative<audit::SessionStateChange>(p) ||
           std::holds_alternative<audit::TransportSwitch>(p);
}

bool is_late_denial(const audit::Payload &p) {
    if (const auto *r = std::get_if<audit::ReattachResult>(&p))
        return !r->success;
    return std::holds_alternative<audit::SecurityEvent>(p) ||
           std::holds_alternative<audit::TransportSwitchDenied>(p);
}

// SecurityEvent.violation values the contract names.
bool is_security_violation(R r) {
    return r == R::replay_detected || r == R::bad_proof || r == R::session_fixation_attempt ||
           r == R::reattach_flood || r == R::handshake_flood;
}

bool is_reattach_switch_reason(R r) {
    return r == R::reattach_success || r == R::address_change_observed || r == R::path_improvement;
}

class Checker {
  public:
    explicit Checker(const AuditCheckLimits &limits) : limits_(limits) {}

    void line(size_t n, std::string_view text) {
        report_.lines = n;
        if (text.empty()) {
            fail(n, "empty line");
            return;
        }
        auto rec = audit::parse_line(text);
        if (!rec) {
            fail(n, rec.error().message());
            return;
        }
        ++report_.events;
        event(n, rec->event);
    }

    AuditCheckReport finish() {
        for (const auto &[id, t] : tracks_)
            unmet_expectation_at_end(id, t);
        std::stable_sort(
            report_.violations.begin(), report_.violations.end(),
            [](const AuditViolation &a, const AuditViolation &b) { return a.line < b.line; });
        report_.sessions = tracks_.size();
        return std::move(report_);
    }

  private:
    void fail(size_t line, std::string message) {
        report_.violations.push_back({line, std::move(message)});
    }

    void fail(size_t line, uint64_t id, std::string message) {
        fail(line, "session " + audit::format_session_id(id) + ": " + std::move(message));
    }

    void event(size_t n, const audit::Event &e) {
        const std::string type = str(audit::event_type_name(e.payload));
        if (const auto *sec = std::get_if<audit::SecurityEvent>(&e.payload);
            sec && !is_security_violation(sec->violation))
            fail(n, "SecurityEvent violation " + str(sec->violation) +
                        " is not one of replay_detected, bad_proof, session_fixation_attempt, "
                        "reattach_flood, handshake_flood");
        if (e.session_id == 0) {
            if (!is_late_denial(e.payload) &&
                !std::holds_alternative<audit::PolicyEvent>(e.payload))
                fail(n, type + " needs a session, but session_id is all zeros");
            return;
        }

        const auto it = tracks_.find(e.session_id);
        if (const auto *c = std::get_if<audit::SessionCreated>(&e.payload)) {
            if (it == tracks_.end())
                created(n, e, *c);
            else if (it->second.terminated)
                fail(n, e.session_id,
                     "session_id reused after termination at line " +
                         std::to_string(it->second.terminated_line));
            else
                fail(n, e.session_id,
                     "SessionCreated for a live session (created at line " +
                         std::to_string(it->second.created_line) + ")");
            return;
        }
        if (it == tracks_.end()) {
            // One report per unknown session: its every later event would say the same.
            if (orphans_.insert(e.session_id).second)
                fail(n, e.session_id, type + " before the session's SessionCreated");
            return;
        }
        SessionTrack &t = it->second;

        const bool awaiting_terminated = t.expect == Expect::Terminated;
        check_expectation(n, e, t);
        const bool is_policy_event = std::holds_alternative<audit::PolicyEvent>(e.payload);
        const bool awaiting_policy_event = t.policy_event_due_line != 0;
        if (awaiting_policy_event) {
            if (!is_policy_event)
                fail(n, e.session_id,
                     "TransportSwitchDenied policy_denied (line " +
                         std::to_string(t.policy_event_due_line) +
                         ") must be followed by a PolicyEvent naming the deciding key, got " +
                         describe(e.payload));
            t.policy_event_due_line = 0;
        }
        if (t.terminated && !awaiting_terminated && !(awaiting_policy_event && is_policy_event) &&
            !is_late_denial(e.payload)) {
            fail(n, e.session_id,
                 type + " after TERMINATED at line " + std::to_string(t.terminated_line) +
                     " (only denials and security events may follow)");
            return;
        }

        std::visit([&](const auto &p) { apply(n, e, t, p); }, e.payload);
    }

    void created(size_t n, const audit::Event &e, const audit::SessionCreated &c) {
        if (e.state_version != 0)
            fail(n, e.session_id,
                 "SessionCreated must carry state_version 0, got " +
                     std::to_string(e.state_version));
        SessionTrack t;
        t.binding = c.transport;
        t.created_line = n;
        t.version_line = n;
        t.expect = Expect::HandshakeOk;
        t.expect_line = n;
        tracks_.emplace(e.session_id, std::move(t));
    }

    // The contract's "X is followed by Y" rules, judged on the session's next event.
    void check_expectation(size_t n, const audit::Event &e, SessionTrack &t) {
        const auto *change = std::get_if<audit::SessionStateChange>(&e.payload);
        const std::string at = " (line " + std::to_string(t.expect_line) + ")";
        switch (t.expect) {
            case Expect::Nothing:
                return;
            case Expect::HandshakeOk:
                if (!(change && change->previous_state == S::Birth &&
                      change->new_state == S::Attached && change->reason_code == R::handshake_ok))
                    fail(n, e.session_id,
                         "SessionCreated" + at +
                             " must be followed by SessionStateChange BIRTH->ATTACHED "
                             "handshake_ok, got " +
                             describe(e.payload));
                break;
            case Expect::Terminated: {
                const auto *term = std::get_if<audit::SessionTerminated>(&e.payload);
                if (!term)
                    fail(n, e.session_id,
                         "SessionStateChange to TERMINATED" + at +
                             " must be followed by SessionTerminated, got " + describe(e.payload));
                else if (term->reason_code != t.termination_reason)
                    fail(n, e.session_id,
                         "SessionTerminated reason_code " + str(term->reason_code) +
                             " differs from the transition's " + str(t.termination_reason) + at);
                break;
            }
            case Expect::ReattachCompletion:
                // Unversioned events (e.g. ReattachResult SUCCESS) may come in between.
                if (!is_versioned(e.payload))
                    return;
                if (!(change && change->previous_state == S::Recovering &&
                      change->new_state == S::Attached &&
                      change->reason_code == R::reattach_success))
                    fail(n, e.session_id,
                         "TransportSwitch" + at +
                             " must be followed by SessionStateChange RECOVERING->ATTACHED "
                             "reattach_success, got " +
                             describe(e.payload));
                break;
        }
        t.expect = Expect::Nothing;
    }

    static std::string describe(const audit::Payload &p) {
        if (const auto *c = std::get_if<audit::SessionStateChange>(&p))
            return "SessionStateChange " + str(c->previous_state) + "->" + str(c->new_state) + " " +
                   str(c->reason_code);
        return str(audit::event_type_name(p));
    }

    // Versioned events: exactly current + 1. Resynchronises on the event's version so that
    // one gap is reported once, not on every later line.
    void step_version(size_t n, const audit::Event &e, SessionTrack &t) {
        const uint64_t v = e.state_version;
        if (v == t.version + 1) {
        } else if (v == t.version) {
            fail(n, e.session_id,
                 "duplicate state_version " + std::to_string(v) + " (already used at line " +
                     std::to_string(t.version_line) + ")");
        } else if (v < t.version) {
            fail(n, e.session_id,
                 "state_version " + std::to_string(v) + " goes backwards (current " +
                     std::to_string(t.version) + ")");
        } else {
            fail(n, e.session_id,
                 "skipped state_version: expected " + std::to_string(t.version + 1) + ", got " +
                     std::to_string(v));
        }
        if (v > t.version) {
            t.version = v;
            t.version_line = n;
        }
    }

    void same_version(size_t n, const audit::Event &e, const SessionTrack &t) {
        if (e.state_version != t.version)
            fail(n, e.session_id,
                 str(audit::event_type_name(e.payload)) + " carries state_version " +
                     std::to_string(e.state_version) + ", current is " + std::to_string(t.version) +
                     " (unversioned events keep the current one)");
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t,
               const audit::SessionStateChange &c) {
        step_version(n, e, t);
        if (c.previous_state != t.state)
            fail(n, e.session_id,
                 "previous_state " + str(c.previous_state) + " but the session is " + str(t.state));
        if (!transition_allowed(c.previous_state, c.new_state, c.reason_code))
            fail(n, e.session_id,
                 "forbidden transition " + str(c.previous_state) + "->" + str(c.new_state) +
                     " with reason " + str(c.reason_code));
        t.state = c.new_state;
        if (c.new_state == S::Terminated && !t.terminated) {
            t.terminated = true;
            t.terminated_line = n;
            t.termination_reason = c.reason_code;
            t.expect = Expect::Terminated;
            t.expect_line = n;
        }
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t, const audit::TransportSwitch &s) {
        step_version(n, e, t);
        if (s.previous_transport != t.binding)
            fail(n, e.session_id,
                 "previous_transport " + s.previous_transport.to_string() +
                     " is not the active binding " + t.binding.to_string() +
                     " (a session has one binding)");
        if (is_reattach_switch_reason(s.reason_code)) {
            if (t.state != S::Recovering)
                fail(n, e.session_id,
                     "TransportSwitch " + str(s.reason_code) + " while " + str(t.state) +
                         " (the binding changes only from RECOVERING)");
            t.expect = Expect::ReattachCompletion;
            t.expect_line = n;
        } else if (s.reason_code != R::legacy_roaming) {
            fail(n, e.session_id,
                 "TransportSwitch reason " + str(s.reason_code) + " is not a switch reason");
        }
        check_switch_bounds(n, e, t);
        t.binding = s.new_transport;
    }

    void check_switch_bounds(size_t n, const audit::Event &e, SessionTrack &t) {
        const int64_t now = e.ts_ms;
        const SwitchBounds bounds = limits_.for_version(e.policy_version);
        if (!t.switch_times.empty()) {
            const int64_t gap = now - t.switch_times.back();
            if (gap < bounds.switch_cooldown_ms)
                fail(n, e.session_id,
                     "switch cooldown violated: " + std::to_string(gap) +
                         " ms after the switch at line " + std::to_string(t.last_switch_line) +
                         " (switching.switch_cooldown_ms " +
                         std::to_string(bounds.switch_cooldown_ms) + ")");
        }
        while (!t.switch_times.empty() && now - t.switch_times.front() >= kSwitchRateWindowMs)
            t.switch_times.pop_front();
        t.switch_times.push_back(now);
        t.last_switch_line = n;
        if (t.switch_times.size() > bounds.max_switches_per_min)
            fail(n, e.session_id,
                 "switch rate exceeded: " + std::to_string(t.switch_times.size()) +
                     " switches within " + std::to_string(kSwitchRateWindowMs) +
                     " ms (switching.max_switches_per_min " +
                     std::to_string(bounds.max_switches_per_min) + ")");
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t,
               const audit::SessionTerminated &term) {
        same_version(n, e, t);
        if (!t.terminated)
            fail(n, e.session_id,
                 "SessionTerminated (" + str(term.reason_code) +
                     ") without a SessionStateChange to TERMINATED");
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t,
               const audit::TransportSwitchDenied &d) {
        same_version(n, e, t);
        if (d.reason_code == R::policy_denied)
            t.policy_event_due_line = n;
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t, const audit::ReattachResult &r) {
        same_version(n, e, t);
        if (r.success != (r.reason_code == R::reattach_success))
            fail(n, e.session_id,
                 std::string("ReattachResult ") + (r.success ? "SUCCESS" : "DENIED") +
                     " with reason " + str(r.reason_code) +
                     " (SUCCESS goes with reattach_success and only with it)");
    }

    void apply(size_t n, const audit::Event &e, SessionTrack &t, const audit::PolicyEvent &p) {
        same_version(n, e, t);
        if (p.policy_name.empty())
            fail(n, e.session_id, "PolicyEvent without a policy_name");
    }

    template <class Other>
    void apply(size_t n, const audit::Event &e, SessionTrack &t, const Other &) {
        same_version(n, e, t);
    }

    void apply(size_t, const audit::Event &, SessionTrack &, const audit::SessionCreated &) {}

    void unmet_expectation_at_end(uint64_t id, const SessionTrack &t) {
        if (t.policy_event_due_line != 0)
            fail(t.policy_event_due_line, id,
                 "log ends before the PolicyEvent of this policy denial");
        switch (t.expect) {
            case Expect::Nothing:
                return;
            case Expect::HandshakeOk:
                fail(t.expect_line, id,
                     "log ends before SessionStateChange BIRTH->ATTACHED handshake_ok");
                return;
            case Expect::Terminated:
                fail(t.expect_line, id, "log ends before SessionTerminated");
                return;
            case Expect::ReattachCompletion:
                fail(t.expect_line, id,
                     "log ends before SessionStateChange RECOVERING->ATTACHED reattach_success");
                return;
        }
    }

    AuditCheckLimits limits_;
    AuditCheckReport report_;
    std::unordered_map<uint64_t, SessionTrack> tracks_;
    std::unordered_set<uint64_t> orphans_;
};

}  // namespace

AuditCheckReport audit_check(std::istream &in, const AuditCheckLimits &limits) {
    Checker checker(limits);
    std::string text;
    for (size_t n = 1; std::getline(in, text); ++n) {
        if (!text.empty() && text.back() == '\r')
            text.pop_back();
        checker.line(n, text);
    }
    return checker.finish();
}

}  // namespace jg
