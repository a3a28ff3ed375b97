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

uint64_t ImpairmentModel::delay_us(const DirectionImpairment &s, double u1, double u2) {
    double ms = s.delay_ms;
    if (s.jitter_ms > 0) {
        if (s.jitter_shape == JitterShape::uniform) {
            ms += (u1 * 2.0 - 1.0) * s.jitter_ms;
        } else {
            // Box-Muller: one normal sample from two uniforms; 1 - u1 is in (0, 1], so the
            // log is finite.
            ms += std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * std::numbers::pi * u2) *
                  s.jitter_ms;
        }
    }
    return ms <= 0 ? 0 : static_cast<uint64_t>(std::llround(ms * 1000.0));
}

PacketFate ImpairmentModel::decide(const DirectionImpairment &settings) {
    // Every packet draws the same numbers in the same order, whatever the settings and
    // whatever becomes of it: the n-th packet's loss, duplication, reordering and jitter
    // then depend on n and the seed alone, so turning one impairment (or a blackhole) on or
    // off never shifts another's decisions.
    const double loss = unit();
    const double duplicate = unit();
    const double reorder = unit();
    const double jitter1 = unit();
    const double jitter2 = unit();
    PacketFate fate;
    if (settings.blackhole) {
        fate.verdict = Verdict::drop_blackhole;
    } else if (loss * 100.0 < settings.drop_percent) {
        fate.verdict = Verdict::drop_loss;
    } else {
        fate.duplicate = duplicate * 100.0 < settings.duplicate_percent;
        fate.hold_for_reorder = reorder * 100.0 < settings.reorder_percent;
        fate.delay_us = delay_us(settings, jitter1, jitter2);
    }
    return fate;
}

bool take_targeted_loss(DirectionImpairment &d, size_t len) {
    if (d.lose_count == 0 || d.lose_following != 0 || (d.lose_size != 0 && len != d.lose_size)) {
        return false;
    }
    if (d.lose_skip > 0) {
        --d.lose_skip;
        return false;
    }
    --d.lose_count;
    return true;
}

void note_opposite_datagram(DirectionImpairment &d, size_t len) {
    if (d.lose_count != 0 && d.lose_following == len) {
        d.lose_following = 0;
    }
}

}  // namespace jg::relay
