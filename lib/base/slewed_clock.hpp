// SlewedClock: wall time (ms since the Unix epoch) that never steps, for timers and audit
// timestamps that must survive a system clock step. The gateway's control core and the client.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

namespace jg {

// Runs on a clock that never steps (CLOCK_BOOTTIME: it also counts a suspended machine's
// sleep, as expiry should) and slews towards the system clock by at most 10 ms per second
// (1 %). A step of the system clock (NTP makestep, a clock set by hand) then neither expires
// every deadline nor stalls every timer, and timestamps drift back to wall time instead of
// jumping. now_ms() and system_offset_ms(): any thread. slew(): one thread at a time.
class SlewedClock {
  public:
    using Source = std::function<int64_t()>;  // microseconds

    // Starts on the system clock's reading.
    SlewedClock(Source steady_us, Source system_us)
        : steady_us_(std::move(steady_us)), system_us_(std::move(system_us)) {
        const int64_t steady = steady_us_();
        offset_us_.store(system_us_() - steady, std::memory_order_relaxed);
        last_slew_us_ = steady;
    }

    int64_t now_ms() const {
        return (steady_us_() + offset_us_.load(std::memory_order_relaxed)) / 1'000;
    }
    // The system clock minus now_ms(): 0 until the system clock steps, then shrinking by
    // up to 10 ms per second of slew() calls.
    int64_t system_offset_ms() const {
        return (system_us_() - steady_us_() - offset_us_.load(std::memory_order_relaxed)) / 1'000;
    }
    // Moves towards the system clock by at most 1 % of the time since the last call.
    void slew() {
        const int64_t steady = steady_us_();
        const int64_t budget = (steady - last_slew_us_) * kSlewPerMille / 1'000;
        if (budget <= 0)
            return;  // under 100 µs since the last call: let the time add up
        last_slew_us_ = steady;
        const int64_t offset = offset_us_.load(std::memory_order_relaxed);
        const int64_t wanted = system_us_() - steady - offset;
        offset_us_.store(offset + std::clamp(wanted, -budget, budget), std::memory_order_relaxed);
    }

    static constexpr int64_t kSlewPerMille = 10;  // µs of correction per ms elapsed

  private:
    Source steady_us_;
    Source system_us_;
    std::atomic<int64_t> offset_us_;  // system - steady, as slewed so far
    int64_t last_slew_us_;            // steady time of the last slew()
};

}  // namespace jg
