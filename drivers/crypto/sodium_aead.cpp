#include "crypto/sodium_aead.hpp"

#include <sodium.h>

namespace jg::crypto {

namespace {

bool seal_one(uint8_t *data, uint32_t len, const uint8_t *key, const uint8_t *nonce,
              const uint8_t *aad, uint32_t aad_len) {
    return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
               data, data + len, nullptr, data, len, aad, aad_len, nullptr, nonce, key) == 0;
}

// libsodium verifies before decrypting, so a forgery leaves ciphertext behind; it is zeroed
// anyway so both backends leave the same bytes on failure.
bool open_one(uint8_t *data, uint32_t len, const uint8_t *key, const uint8_t *nonce,
              const uint8_t *aad, uint32_t aad_len) {
    const bool authentic = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                               data, nullptr, data, len, data + len, aad, aad_len, nonce, key) == 0;
    if (!authentic) {
        sodium_memzero(data, len);
    }
    return authentic;
}

}  // namespace

jg::Result<SodiumAead> SodiumAead::create() {
    if (sodium_init() < 0) {
        return jg::make_error("libsodium", "sodium_init failed");
    }
    return SodiumAead();
}

uint16_t SodiumAead::seal_burst(AeadOp *ops, uint16_t n) const noexcept {
    uint16_t ok = 0;
    for (uint16_t i = 0; i < n; ++i) {
        AeadOp &op = ops[i];
        uint8_t nonce[kAeadNonceBytes];
        aead_nonce_from_counter(op.counter, nonce);
        op.ok = seal_one(op.data, op.len, op.key, nonce, nullptr, 0) ? 1 : 0;
        ok += op.ok;
    }
    return ok;
}

uint16_t SodiumAead::open_burst(AeadOp *ops, uint16_t n) const noexcept {
    uint16_t ok = 0;
    for (uint16_t i = 0; i < n; ++i) {
        AeadOp &op = ops[i];
        uint8_t nonce[kAeadNonceBytes];
        aead_nonce_from_counter(op.counter, nonce);
        op.ok = open_one(op.data, op.len, op.key, nonce, nullptr, 0) ? 1 : 0;
        ok += op.ok;
    }
    return ok;
}

bool SodiumAead::seal_explicit(const AeadExplicitOp &op) const noexcept {
    return seal_one(op.data, op.len, op.key, op.nonce, op.aad, op.aad_len);
}

bool SodiumAead::open_explicit(const AeadExplicitOp &op) const noexcept {
    return open_one(op.data, op.len, op.key, op.nonce, op.aad, op.aad_len);
}

}  // namespace jg::crypto
