// audit_check: verifies an audit log against the contract (STATE_MACHINE.md, the comment atop
// session/audit_event.hpp). Pure function over a stream; any thread (jumpgatectl, tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "session/policy.hpp"
#include "session/reason.hpp"
#include "session/state.hpp"

namespace jg {

// The switch bounds to hold TransportSwitch events to; from the policy the log was written
// under (the log names only its version, so the caller supplies the values).
struct AuditCheckLimits {
    uint32_t max_switches_per_min = Policy{}.switching.max_switches_per_min;
    int64_t switch_cooldown_ms = Policy{}.switching.switch_cooldown_ms;

    static AuditCheckLimits from_policy(const Policy &p) {
        return {p.switching.max_switches_per_min, p.switching.switch_cooldown_ms};
    }
};

// Sliding window of the max_switches_per_min bound.
inline constexpr int64_t kSwitchRateWindowMs = 60'000;

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

// The contract's transition table: is from -> to with this reason a valid transition?
bool transition_allowed(SessionState from, SessionState to, Reason reason);

}  // namespace jg
