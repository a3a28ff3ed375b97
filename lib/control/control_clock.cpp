#include "control/control_clock.hpp"

#include <time.h>

#include <algorithm>
#include <utility>

namespace jg::control {
namespace {

int64_t read_us(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

}  // namespace

ControlClock::ControlClock(Source steady_us, Source system_us)
    : steady_us_(std::move(steady_us)), system_us_(std::move(system_us)) {
    const int64_t steady = steady_us_();
    offset_us_.store(system_us_() - steady, std::memory_order_relaxed);
    last_slew_us_ = steady;
}

int64_t ControlClock::now_ms() const {
    return (steady_us_() + offset_us_.load(std::memory_order_relaxed)) / 1'000;
}

int64_t ControlClock::system_offset_ms() const {
    return (system_us_() - steady_us_() - offset_us_.load(std::memory_order_relaxed)) / 1'000;
}

void ControlClock::slew() {
    const int64_t steady = steady_us_();
    const int64_t budget = (steady - last_slew_us_) * kSlewPerMille / 1'000;
    if (budget <= 0)
        return;  // under 100 µs since the last call: let the time add up
    last_slew_us_ = steady;
    const int64_t offset = offset_us_.load(std::memory_order_relaxed);
    const int64_t wanted = system_us_() - steady - offset;
    offset_us_.store(offset + std::clamp(wanted, -budget, budget), std::memory_order_relaxed);
}

ControlClock &control_clock() {
    static ControlClock clock([] { return read_us(CLOCK_BOOTTIME); },
                              [] { return read_us(CLOCK_REALTIME); });
    return clock;
}

}  // namespace jg::control
