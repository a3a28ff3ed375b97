#include "proto/tai64n.hpp"

#include <cstring>

namespace jg::proto {
namespace {

constexpr uint64_t kTaiLabel = 0x400000000000000aull;  // 2^62 + 10 s (TAI - UTC at 1972)
constexpr uint32_t kWhitenerMask = (1u << 24) - 1;     // ~16.8 ms of nanosecond precision

}  // namespace

Tai64n tai64n_from_unix_ns(uint64_t unix_ns) {
    const uint64_t secs = kTaiLabel + unix_ns / kNsPerSecond;
    const uint32_t nanos = uint32_t(unix_ns % kNsPerSecond) & ~kWhitenerMask;
    Tai64n t;
    for (int i = 0; i < 8; ++i) {
        t[i] = uint8_t(secs >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; ++i) {
        t[8 + i] = uint8_t(nanos >> (24 - 8 * i));
    }
    return t;
}

bool tai64n_after(const Tai64n &a, const Tai64n &b) {
    return std::memcmp(a.data(), b.data(), a.size()) > 0;
}

}  // namespace jg::proto
