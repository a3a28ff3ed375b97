// Shared test scaffolding for the crypto backends: packet buffers and seeded randomness.
// Test-only; single-threaded.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "crypto/aead_burst.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "crypto/sodium_aead.hpp"

namespace jg::crypto::test {

using Key = std::array<uint8_t, kAeadKeyBytes>;

// A payload plus its tag room, the layout both backends expect.
struct Packet {
    std::vector<uint8_t> bytes;  // len + kAeadTagBytes
    uint32_t len = 0;

    Packet() = default;
    explicit Packet(uint32_t payload_len)
        : bytes(payload_len + kAeadTagBytes, 0), len(payload_len) {}
    uint8_t *data() { return bytes.data(); }
};

inline Key random_key(std::mt19937_64 &rng) {
    Key key;
    for (auto &b : key) {
        b = static_cast<uint8_t>(rng());
    }
    return key;
}

inline void fill_random(std::vector<uint8_t> &bytes, size_t n, std::mt19937_64 &rng) {
    for (size_t i = 0; i < n; ++i) {
        bytes[i] = static_cast<uint8_t>(rng());
    }
}

inline AeadOp op_for(Packet &packet, const Key &key, uint64_t counter) {
    return AeadOp{packet.data(), packet.len, key.data(), counter, 0xAA};
}

class CryptoBackends : public ::testing::Test {
  protected:
    void SetUp() override {
        auto mb = IpsecMbAead::create();
        ASSERT_TRUE(mb.ok()) << mb.error().message();
        auto na = SodiumAead::create();
        ASSERT_TRUE(na.ok()) << na.error().message();
        ipsec_mb_ = std::make_unique<IpsecMbAead>(std::move(mb).value());
        sodium_ = std::make_unique<SodiumAead>(std::move(na).value());
    }

    IpsecMbAead &mb() { return *ipsec_mb_; }
    SodiumAead &na() { return *sodium_; }

    std::mt19937_64 rng_{0x6a756d7067617465ULL};

  private:
    std::unique_ptr<IpsecMbAead> ipsec_mb_;
    std::unique_ptr<SodiumAead> sodium_;
};

}  // namespace jg::crypto::test
