// audit_check: verifies an audit log against the contract (STATE_MACHINE.md, the comment atop
// session/audit_event.hpp). Pure function over a stream; any thread (jumpgatectl, tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "session/policy.hpp"

namespace jg {

// Transitions are judged by lib/session's transition table (session/state_machine.hpp) and
// the switch window by its kSwitchRateWindowMs, so the checker and the FSM cannot drift apart.

// One policy's switch bounds.
struct SwitchBounds {
    uint32_t max_switches_per_min = Policy{}.switching.max_switches_per_min;
    int64_t switch_cooldown_ms = Policy{}.switching.switch_cooldown_ms;

    static SwitchBounds from_policy(const Policy &p) {
        return {p.switching.max_switches_per_min, p.switching.switch_cooldown_ms};
    }
    bool operator==(const SwitchBounds &) const = default;
};

// The switch bounds to hold TransportSwitch events to; from the policy the log was written
// under (the log names only its version, so the caller supplies the values).
struct AuditCheckLimits {
    uint32_t max_switches_per_min = Policy{}.switching.max_switches_per_min;
    int64_t switch_cooldown_ms = Policy{}.switching.switch_cooldown_ms;
    // When sessions ran under different profiles: an event whose policy_version is listed is
    // held to that version's bounds, any other to the two above.
    std::map<std::string, SwitchBounds, std::less<>> by_policy_version;

    static AuditCheckLimits from_policy(const Policy &p) {
        return {p.switching.max_switches_per_min, p.switching.switch_cooldown_ms, {}};
    }
    SwitchBounds for_version(std::string_view policy_version) const {
        const auto it = by_policy_version.find(policy_version);
        return it != by_policy_version.end()
                   ? it->second
                   : SwitchBounds{max_switches_per_min, switch_cooldown_ms};
    }
};

struct AuditViolation {
    size_t line = 0;  // 1-based line of the event that broke the rule
    std::string message;
};

struct AuditCheckReport {
    std::vector<AuditViolation> violations;
    size_t lines = 0;     // lines read
    size_t events = 0;    // lines that parsed
    size_t sessions = 0;  // distinct session ids created

    bool ok() const { return violations.empty(); }
};

AuditCheckReport audit_check(std::istream &in, const AuditCheckLimits &limits);

}  // namespace jg
