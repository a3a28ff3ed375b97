// ClientClock: the client's time lines. Every timer (heartbeats, reattach pacing, handshake
// retransmits, keypair ages, the session state machine's deadlines and TTLs) runs on a clock
// that never steps; the system clock, which NTP or an operator may step at any moment, is read
// only for what leaves the process as wall time: REATTACH_REQUEST client_time_ms and the
// handshake's TAI64N timestamp. A forward step would otherwise end the session as
// transport_ttl_exceeded, a backward one would stop every heartbeat. Audit ts_ms follow a
// third line, wall time that never steps (as the gateway's ControlClock): a backward step
// would otherwise shrink the gaps between logged switches below the cooldown they kept.
// The client's loop thread only (the sources are called from it).
#pragma once

#include <cstdint>
#include <functional>

#include "base/slewed_clock.hpp"
#include "session/policy.hpp"
#include "session/session_event.hpp"
#include "session/session_record.hpp"
#include "session/state_machine.hpp"

namespace jg::client {

class ClientClock {
  public:
    using Source = std::function<int64_t()>;  // nanoseconds

    // CLOCK_BOOTTIME (keeps counting while suspended, so a sleeping laptop's session ages as
    // the gateway's does) and CLOCK_REALTIME.
    ClientClock();
    ClientClock(Source steady_ns, Source system_ns);

    // Timer time: ms / ns since an arbitrary origin; never steps.
    int64_t timer_ms() const { return steady_() / 1'000'000; }
    uint64_t timer_ns() const { return uint64_t(steady_()); }
    // The system clock: ms / ns since the Unix epoch.
    int64_t wall_ms() const { return system_() / 1'000'000; }
    uint64_t wall_ns() const { return uint64_t(system_()); }
    // Audit time: ms since the Unix epoch that never steps (SlewedClock on timer time,
    // slewed on every call), so a step of the system clock is caught up on gradually and the
    // line never goes back.
    int64_t audit_ms() const {
        audit_.slew();
        return audit_.now_ms();
    }

  private:
    Source steady_;
    Source system_;
    mutable SlewedClock audit_;
};

// Runs step() on timer time and moves the audit events it made to audit time (ts_ms and the
// absolute recovery deadline of a ReattachAttempt), so the log reads like the gateway's.
StepResult step_at(const ClientClock &clock, SessionRecord &record, const SessionEvent &event,
                   const Policy &policy);

}  // namespace jg::client
