// ChaCha20-Poly1305 over packet bursts through libsodium (reference backend, client, tests).
// Stateless after create(): any thread may call it concurrently.
#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "crypto/aead_burst.hpp"

namespace jg::crypto {

class SodiumAead {
  public:
    // Runs sodium_init() so libsodium selects its fastest ChaCha20 code for this CPU.
    static jg::Result<SodiumAead> create();

    // One libsodium call per op; sets each op's `ok` and returns how many are 1. No allocation.
    uint16_t seal_burst(AeadOp *ops, uint16_t n) const noexcept;
    uint16_t open_burst(AeadOp *ops, uint16_t n) const noexcept;

    bool seal_explicit(const AeadExplicitOp &op) const noexcept;
    bool open_explicit(const AeadExplicitOp &op) const noexcept;

    const char *arch_name() const noexcept { return "libsodium"; }

  private:
    SodiumAead() = default;
};

static_assert(AeadBurstBackend<SodiumAead>);

}  // namespace jg::crypto
