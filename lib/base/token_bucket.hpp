// TokenBucket: an event rate limit kept in milliseconds of credit, for control-path limiters.
// A value type; one thread at a time (the workers' TSC buckets are their own, in WorkerLocal).
#pragma once

#include <algorithm>
#include <cstdint>

namespace jg {

// `per_second` events a second (1..1000), `burst` at once; times in ms of any clock that
// never steps. Starts full.
class TokenBucket {
  public:
    constexpr TokenBucket(int64_t per_second, int64_t burst, int64_t now_ms)
        : cost_ms_(1000 / per_second),
          max_ms_(cost_ms_ * burst),
          credit_ms_(max_ms_),
          last_ms_(now_ms) {}

    // Takes one event's credit; false, and nothing taken, when there is not enough.
    bool spend(int64_t now_ms) {
        credit_ms_ = credit_at(now_ms);
        last_ms_ = now_ms;
        if (credit_ms_ < cost_ms_)
            return false;
        credit_ms_ -= cost_ms_;
        return true;
    }
    // True when the bucket has refilled completely: it holds nothing worth remembering.
    bool full(int64_t now_ms) const { return credit_at(now_ms) >= max_ms_; }

  private:
    int64_t credit_at(int64_t now_ms) const {
        return std::min(max_ms_, credit_ms_ + std::max<int64_t>(0, now_ms - last_ms_));
    }

    int64_t cost_ms_;
    int64_t max_ms_;
    int64_t credit_ms_;
    int64_t last_ms_;
};

}  // namespace jg
