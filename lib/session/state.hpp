// SessionState: the lifecycle states of STATE_MACHINE.md and their names.
// Pure data; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace jg {

// X(enumerator, audit name, metric label). Audit logs use the contract's upper-case names,
// Prometheus labels the lower-case ones.
#define JG_SESSION_STATES(X)                  \
    X(Birth, "BIRTH", "birth")                \
    X(Attached, "ATTACHED", "attached")       \
    X(Volatile, "VOLATILE", "volatile")       \
    X(Recovering, "RECOVERING", "recovering") \
    X(Degraded, "DEGRADED", "degraded")       \
    X(Terminated, "TERMINATED", "terminated")

enum class SessionState : uint8_t {
#define JG_X(e, a, m) e,
    JG_SESSION_STATES(JG_X)
#undef JG_X
};

inline constexpr int kSessionStateCount = 0
#define JG_X(e, a, m) +1
    JG_SESSION_STATES(JG_X)
#undef JG_X
    ;

constexpr std::string_view state_name(SessionState s) {
    switch (s) {
#define JG_X(e, a, m)     \
    case SessionState::e: \
        return a;
        JG_SESSION_STATES(JG_X)
#undef JG_X
    }
    return "?";
}

constexpr std::string_view state_label(SessionState s) {
    switch (s) {
#define JG_X(e, a, m)     \
    case SessionState::e: \
        return m;
        JG_SESSION_STATES(JG_X)
#undef JG_X
    }
    return "?";
}

// Accepts the audit name or the metric label.
constexpr std::optional<SessionState> parse_state(std::string_view s) {
#define JG_X(e, a, m)     \
    if (s == a || s == m) \
        return SessionState::e;
    JG_SESSION_STATES(JG_X)
#undef JG_X
    return std::nullopt;
}

}  // namespace jg
