#include "session/reattach_nonces.hpp"

#include <algorithm>

namespace jg {

bool ReattachNonces::contains(uint64_t nonce, uint32_t window) const {
    const uint32_t n = std::min({window, size(), kCapacity});
    for (uint32_t i = 1; i <= n; ++i)
        if (ring_[(next_ + kCapacity - i) % kCapacity] == nonce)
            return true;
    return false;
}

void ReattachNonces::insert(uint64_t nonce) {
    ring_[next_] = nonce;
    next_ = (next_ + 1) % kCapacity;
    if (count_ < kCapacity)
        ++count_;
}

}  // namespace jg
