// SwitchGate: the policy bound on transport switches (rate per sliding 60 s, cooldown,
// improvement factor between healthy paths). Pure functions over a bounded history;
// called by the FSM on the control core and by the client's path chooser.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bounded_ring.hpp"
#include "session/policy.hpp"

namespace jg {

inline constexpr int64_t kSwitchRateWindowMs = 60'000;

// Times (ms) of the most recent switches of one session.
class SwitchHistory {
  public:
    // The rate limit is enforced up to this many switches per minute; a larger
    // switching.max_switches_per_min behaves as this value (documented clamp: at 64 switches
    // a minute a path is already changing faster than a heartbeat window can judge it).
    static constexpr uint32_t kCapacity = 64;

    void record(int64_t now_ms);
    // Switches at times t with now_ms - t < kSwitchRateWindowMs.
    uint32_t count_in_window(int64_t now_ms) const;
    // When (ms) fewer than `limit` switches will be left in the window, with none added:
    // now_ms if there are fewer already; a minute on for a limit of 0 (never, until a reload).
    int64_t below_limit_at(uint32_t limit, int64_t now_ms) const;
    bool empty() const { return total_ == 0; }
    // The newest switch's time; 0 when there has been none.
    int64_t last_ms() const { return times_.empty() ? 0 : times_.newest(); }
    uint32_t total() const { return total_; }

  private:
    // Grown as switches happen: most sessions never switch, and a fixed ring cost every
    // session 512 bytes on the control core.
    BoundedRing<int64_t, kCapacity> times_;
    uint32_t total_ = 0;
};

// Why a switch may or may not happen; on denial, the policy key that decided, its value and
// what was observed (the PolicyEvent fields).
struct GateVerdict {
    bool allowed = true;
    std::string_view policy_key;
    double threshold = 0.0;
    double observed = 0.0;
};

// Cooldown first (the cheaper, more specific answer), then the sliding-window rate.
GateVerdict check_switch_gate(const SwitchHistory &h, const Policy &p, int64_t now_ms);
// The earliest time (ms) at which check_switch_gate allows a switch, with none added meanwhile.
int64_t switch_gate_opens_ms(const SwitchHistory &h, const Policy &p, int64_t now_ms);

// A policy-driven switch between two healthy paths is worth it only when the candidate's
// path_score beats the current one by switching.switch_improvement_factor.
bool improvement_justifies_switch(double current_score, double candidate_score, const Policy &p);

}  // namespace jg
