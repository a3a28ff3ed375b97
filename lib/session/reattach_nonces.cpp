#include "session/reattach_nonces.hpp"

#include <algorithm>

namespace jg {

bool ReattachNonces::contains(uint64_t nonce, uint32_t window) const {
    const uint32_t n = std::min(window, ring_.size());
    for (uint32_t i = 0; i < n; ++i)
        if (ring_.newest(i) == nonce)
            return true;
    return false;
}

void ReattachNonces::insert(uint64_t nonce) {
    ring_.push(nonce);
}

}  // namespace jg
