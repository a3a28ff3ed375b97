#include "control/control_clock.hpp"

#include <time.h>

namespace jg::control {
namespace {

int64_t read_us(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

}  // namespace

ControlClock &control_clock() {
    static ControlClock clock([] { return read_us(CLOCK_BOOTTIME); },
                              [] { return read_us(CLOCK_REALTIME); });
    return clock;
}

}  // namespace jg::control
