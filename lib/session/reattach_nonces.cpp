#include "session/reattach_nonces.hpp"

#include <algorithm>

namespace jg {

bool ReattachNonces::contains(uint64_t nonce, uint32_t window) const {
    const uint32_t held = size();
    const uint32_t n = std::min({window, held, kCapacity});
    // Until the ring is full the newest nonce is the last one appended (next_ == 0 then).
    const uint32_t newest_end = held < kCapacity ? held : next_;
    for (uint32_t i = 1; i <= n; ++i)
        if (ring_[(newest_end + held - i) % held] == nonce)
            return true;
    return false;
}

void ReattachNonces::insert(uint64_t nonce) {
    if (ring_.size() < kCapacity) {
        ring_.push_back(nonce);
        return;
    }
    ring_[next_] = nonce;
    next_ = (next_ + 1) % kCapacity;
}

}  // namespace jg
