// ControlClock: the control core's time line (ms since the Unix epoch) that never steps, so
// session timers, keypair lifetimes and audit timestamps survive a system clock step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace jg::control {

// Runs on a clock that never steps (CLOCK_BOOTTIME: it also counts a suspended VM's sleep,
// as expiry should) and slews towards the system clock by at most 10 ms per second (1 %).
// A step of the system clock (NTP makestep, a clock set by hand) then neither expires every
// keypair nor stalls every timer, and timestamps drift back to wall time instead of jumping.
// now_ms() and system_offset_ms(): any thread. slew(): one thread (the control core's loop).
class ControlClock {
  public:
    using Source = std::function<int64_t()>;  // microseconds

    // Starts on the system clock's reading.
    ControlClock(Source steady_us, Source system_us);

    int64_t now_ms() const;
    // The system clock minus now_ms(): 0 until the system clock steps, then shrinking by
    // up to 10 ms per second of slew() calls.
    int64_t system_offset_ms() const;
    // Moves towards the system clock by at most 1 % of the time since the last call.
    void slew();

    static constexpr int64_t kSlewPerMille = 10;  // µs of correction per ms elapsed

  private:
    Source steady_us_;
    Source system_us_;
    std::atomic<int64_t> offset_us_;  // system - steady, as slewed so far
    int64_t last_slew_us_;            // steady time of the last slew()
};

// The process's clock, on CLOCK_BOOTTIME and CLOCK_REALTIME.
ControlClock &control_clock();

}  // namespace jg::control
