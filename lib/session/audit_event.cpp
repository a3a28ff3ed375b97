#include "session/audit_event.hpp"

namespace jg::audit {

std::string_view event_type_name(const Payload &p) {
    static constexpr std::string_view kNames[] = {
        "SessionCreated",  "SessionStateChange", "TransportSwitch", "TransportSwitchDenied",
        "ReattachAttempt", "ReattachResult",     "KeyRotated",      "SecurityEvent",
        "PolicyEvent",     "SessionTerminated",
    };
    static_assert(std::size(kNames) == std::variant_size_v<Payload>);
    return kNames[p.index()];
}

}  // namespace jg::audit
