#include "proto/blake2s.hpp"

#include <blake2.h>
#include <sodium.h>

namespace jg::proto {
namespace {

constexpr size_t kBlockSize = BLAKE2S_BLOCKBYTES;

// libb2 only fails on out-of-range lengths, which the callers here rule out by
// construction (fixed 16/32-byte outputs, keys bounded by the signatures' contracts).
void hash_parts(uint8_t *out, size_t out_len, Bytes key, Bytes a, Bytes b) {
    blake2s_state s;
    if (key.empty()) {
        blake2s_init(&s, out_len);
    } else {
        blake2s_init_key(&s, out_len, key.data(), key.size());
    }
    blake2s_update(&s, a.data(), a.size());
    blake2s_update(&s, b.data(), b.size());
    blake2s_final(&s, out, out_len);
    sodium_memzero(&s, sizeof(s));
}

}  // namespace

Hash blake2s_hash(Bytes a, Bytes b) {
    Hash out;
    hash_parts(out.data(), out.size(), {}, a, b);
    return out;
}

Mac blake2s_mac(Bytes key, Bytes data) {
    Mac out;
    hash_parts(out.data(), out.size(), key, data, {});
    return out;
}

Hash hmac_blake2s(Bytes key, Bytes data) {
    uint8_t k[kBlockSize] = {};
    if (key.size() > kBlockSize) {
        const Hash hk = blake2s_hash(key);
        std::memcpy(k, hk.data(), hk.size());
    } else if (!key.empty()) {
        std::memcpy(k, key.data(), key.size());
    }
    uint8_t pad[kBlockSize];
    for (size_t i = 0; i < kBlockSize; ++i) {
        pad[i] = k[i] ^ 0x36;
    }
    Hash inner = blake2s_hash(Bytes(pad, kBlockSize), data);
    for (size_t i = 0; i < kBlockSize; ++i) {
        pad[i] = k[i] ^ 0x5c;
    }
    Hash out = blake2s_hash(Bytes(pad, kBlockSize), inner);
    sodium_memzero(k, sizeof(k));
    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner.data(), inner.size());
    return out;
}

namespace {

// Expands up to three outputs from one extraction; `n` picks how many are written.
void kdf(Hash *outs[], int n, Bytes key, Bytes input) {
    Hash t0 = hmac_blake2s(key, input);
    uint8_t buf[kHashSize + 1];
    Hash prev{};
    for (int i = 0; i < n; ++i) {
        size_t len = 0;
        if (i > 0) {
            std::memcpy(buf, prev.data(), prev.size());
            len = prev.size();
        }
        buf[len++] = uint8_t(i + 1);
        prev = hmac_blake2s(t0, Bytes(buf, len));
        *outs[i] = prev;
    }
    sodium_memzero(t0.data(), t0.size());
    sodium_memzero(prev.data(), prev.size());
    sodium_memzero(buf, sizeof(buf));
}

}  // namespace

void kdf1(Hash &t1, Bytes key, Bytes input) {
    Hash *outs[] = {&t1};
    kdf(outs, 1, key, input);
}

void kdf2(Hash &t1, Hash &t2, Bytes key, Bytes input) {
    Hash *outs[] = {&t1, &t2};
    kdf(outs, 2, key, input);
}

void kdf3(Hash &t1, Hash &t2, Hash &t3, Bytes key, Bytes input) {
    Hash *outs[] = {&t1, &t2, &t3};
    kdf(outs, 3, key, input);
}

}  // namespace jg::proto
