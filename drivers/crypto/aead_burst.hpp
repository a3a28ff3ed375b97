// Burst AEAD vocabulary: the op record every crypto backend seals/opens in place
// (ChaCha20-Poly1305). Plain data and pure functions: any thread may use them; each backend states
// its own threads.
#pragma once

#include <concepts>
#include <cstdint>

namespace jg::crypto {

inline constexpr uint32_t kAeadKeyBytes = 32;
inline constexpr uint32_t kAeadTagBytes = 16;
inline constexpr uint32_t kAeadNonceBytes = 12;

// One packet payload to seal or open in place with ChaCha20-Poly1305 (RFC 8439), no AAD,
// nonce = 4 zero bytes || counter as 64-bit little-endian (WireGuard transport data).
// `data` must have room for len + kAeadTagBytes bytes: seal writes the tag right after the
// ciphertext, open reads the received tag from there.
struct AeadOp {
    uint8_t *data;
    uint32_t len;        // bytes of plaintext (seal) or ciphertext (open), tag excluded
    const uint8_t *key;  // kAeadKeyBytes; must stay valid until the burst call returns
    uint64_t counter;
    // Out: 1 when sealed / when the tag verified. 0 means drop the packet; a failed open
    // leaves the len payload bytes zeroed so no unauthenticated plaintext escapes.
    uint8_t ok;
};

// Nonce and AAD given explicitly (test vectors, handshake-style messages). Same sizes and
// in-place layout as AeadOp.
struct AeadExplicitOp {
    uint8_t *data;
    uint32_t len;          // bytes, tag excluded
    const uint8_t *key;    // kAeadKeyBytes
    const uint8_t *nonce;  // kAeadNonceBytes
    const uint8_t *aad;    // may be null when aad_len == 0
    uint32_t aad_len;      // bytes
};

// WireGuard's 96-bit nonce for a transport counter.
inline void aead_nonce_from_counter(uint64_t counter, uint8_t nonce[kAeadNonceBytes]) {
    for (uint32_t i = 0; i < 4; ++i) {
        nonce[i] = 0;
    }
    for (uint32_t i = 0; i < 8; ++i) {
        nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
    }
}

// What the data plane needs from a backend; checked at compile time so the worker can be
// written once over either backend without a virtual call.
template <class Backend>
concept AeadBurstBackend = requires(Backend &backend, AeadOp *ops, uint16_t n) {
    { backend.seal_burst(ops, n) } -> std::same_as<uint16_t>;
    { backend.open_burst(ops, n) } -> std::same_as<uint16_t>;
    { backend.arch_name() } -> std::convertible_to<const char *>;
};

}  // namespace jg::crypto
