#include "impairment.hpp"

#include <cmath>
#include <numbers>

namespace jg::relay {

std::string_view direction_name(Direction d) {
    return d == Direction::up ? "up" : "down";
}

std::string_view jitter_shape_name(JitterShape s) {
    return s == JitterShape::uniform ? "uniform" : "normal";
}

uint64_t direction_seed(uint64_t seed, Direction d) {
    // Distinct, fixed streams per direction (golden-ratio offset keeps them apart).
    return seed ^ (d == Direction::up ? 0 : 0x9e3779b97f4a7c15ULL);
}

double ImpairmentModel::unit() {
    // 53 random bits: exact in a double and independent of the standard library's
    // distribution implementations, so decisions are the same on every build.
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

bool ImpairmentModel::chance(double percent) {
    // Draws even at 0 %: turning one impairment on must not shift the others' decisions.
    return unit() * 100.0 < percent;
}

uint64_t ImpairmentModel::delay_us(const DirectionImpairment &s) {
    double ms = s.delay_ms;
    if (s.jitter_ms > 0) {
        if (s.jitter_shape == JitterShape::uniform) {
            ms += (unit() * 2.0 - 1.0) * s.jitter_ms;
        } else {
            // Box-Muller: one normal sample from two uniforms.
            double u1 = 1.0 - unit();  // (0, 1]: log is finite
            double u2 = unit();
            ms += std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2) *
                  s.jitter_ms;
        }
    }
    return ms <= 0 ? 0 : static_cast<uint64_t>(std::llround(ms * 1000.0));
}

PacketFate ImpairmentModel::decide(const DirectionImpairment &settings) {
    PacketFate fate;
    if (settings.blackhole) {
        fate.verdict = Verdict::drop_blackhole;
        return fate;
    }
    if (chance(settings.drop_percent)) {
        fate.verdict = Verdict::drop_loss;
        return fate;
    }
    fate.duplicate = chance(settings.duplicate_percent);
    fate.hold_for_reorder = chance(settings.reorder_percent);
    fate.delay_us = delay_us(settings);
    return fate;
}

}  // namespace jg::relay
