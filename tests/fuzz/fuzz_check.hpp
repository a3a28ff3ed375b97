// Fuzz-target helpers: an invariant check that aborts with its location, and the fixed
// identities the handshake target and its seed generator share. Test code only.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "proto/messages.hpp"

// A broken invariant is a finding: report where and abort so libFuzzer saves the input.
#define FUZZ_REQUIRE(cond)                                                                    \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

namespace jg::fuzz {

inline proto::Key filled_key(uint8_t v) {
    proto::Key k;
    k.fill(v);
    return k;
}

// Fixed so that committed seeds stay valid: the gateway, its one configured peer, and a
// stranger the gateway does not know.
inline proto::Key responder_private() {
    return filled_key(0x11);
}
inline proto::Key peer_private() {
    return filled_key(0x22);
}
inline proto::Key stranger_private() {
    return filled_key(0x33);
}
inline proto::Key seed_ephemeral_private() {
    return filled_key(0x44);
}
inline proto::Key response_ephemeral_private() {
    return filled_key(0x55);
}

// Monotonic and wall clocks the handshake target runs at (ns).
inline constexpr uint64_t kNowNs = 5'000 * proto::kNsPerSecond;
inline constexpr uint64_t kSeedUnixNs = 1'700'000'000ull * proto::kNsPerSecond;

// Byte 0 of a handshake-target input; the rest is the UDP payload.
inline constexpr uint8_t kFlagFixMac1 = 0x01;    // recompute mac1 so mutations reach the Noise code
inline constexpr uint8_t kFlagUnderLoad = 0x02;  // check mac2 as a loaded gateway would

}  // namespace jg::fuzz
