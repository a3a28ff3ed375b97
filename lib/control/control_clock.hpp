// ControlClock: the control core's time line (ms since the Unix epoch) that never steps, so
// session timers, keypair lifetimes and audit timestamps survive a system clock step.
#pragma once

#include "base/slewed_clock.hpp"

namespace jg::control {

// now_ms() and system_offset_ms(): any thread. slew(): the control core's loop only.
using ControlClock = SlewedClock;

// The process's clock, on CLOCK_BOOTTIME and CLOCK_REALTIME.
ControlClock &control_clock();

}  // namespace jg::control
