#include "session/switch_gate.hpp"

#include <algorithm>

namespace jg {
namespace {

// The rate limit as enforced: switching.max_switches_per_min, clamped to what the history holds.
uint32_t enforced_rate_limit(const Policy &p) {
    return std::min(p.switching.max_switches_per_min, SwitchHistory::kCapacity);
}

}  // namespace

void SwitchHistory::record(int64_t now_ms) {
    ++total_;
    times_.push(now_ms);
}

uint32_t SwitchHistory::count_in_window(int64_t now_ms) const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < times_.size(); ++i) {
        const int64_t t = times_.newest(i);
        if (now_ms - t >= kSwitchRateWindowMs)
            break;
        ++n;
    }
    return n;
}

int64_t SwitchHistory::below_limit_at(uint32_t limit, int64_t now_ms) const {
    if (limit == 0)
        return now_ms + kSwitchRateWindowMs;
    if (count_in_window(now_ms) < limit)
        return now_ms;
    // The limit-th newest switch leaving the window leaves limit - 1 in it.
    return times_.newest(limit - 1) + kSwitchRateWindowMs;
}

int64_t switch_gate_opens_ms(const SwitchHistory &h, const Policy &p, int64_t now_ms) {
    const auto &w = p.switching;
    const int64_t cooldown_ends = h.empty() ? now_ms : h.last_ms() + w.switch_cooldown_ms;
    return std::max({now_ms, cooldown_ends, h.below_limit_at(enforced_rate_limit(p), now_ms)});
}

GateVerdict check_switch_gate(const SwitchHistory &h, const Policy &p, int64_t now_ms) {
    const auto &w = p.switching;
    if (!h.empty() && now_ms - h.last_ms() < w.switch_cooldown_ms)
        return {false, "switching.switch_cooldown_ms", static_cast<double>(w.switch_cooldown_ms),
                static_cast<double>(now_ms - h.last_ms())};
    const uint32_t limit = enforced_rate_limit(p);
    const uint32_t recent = h.count_in_window(now_ms);
    if (recent >= limit)
        return {false, "switching.max_switches_per_min", static_cast<double>(limit),
                static_cast<double>(recent + 1)};
    return {};
}

bool improvement_justifies_switch(double current_score, double candidate_score, const Policy &p) {
    return candidate_score >= current_score * p.switching.switch_improvement_factor;
}

}  // namespace jg
