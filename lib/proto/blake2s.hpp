// BLAKE2s primitives of the Noise/WireGuard handshake (HASH, MAC, HMAC, HKDF) over libb2.
// Stateless and reentrant: any thread may call them; control path (handshakes, cookies).
#pragma once

#include <cstdint>
#include <span>

#include "proto/messages.hpp"

namespace jg::proto {

using Bytes = std::span<const uint8_t>;

// HASH(a || b): unkeyed BLAKE2s-256.
Hash blake2s_hash(Bytes a, Bytes b = {});

// MAC(key, data): keyed BLAKE2s with a 16-byte output (mac1, mac2, cookie). key <= 32 bytes.
Mac blake2s_mac(Bytes key, Bytes data);

// HMAC-BLAKE2s (RFC 2104 with a 64-byte block); key <= 64 bytes.
Hash hmac_blake2s(Bytes key, Bytes data);

// HKDF as the WireGuard paper defines KDF1/2/3: t0 = HMAC(key, input),
// t1 = HMAC(t0, 0x1), t_i = HMAC(t0, t_{i-1} || i). Outputs may alias `key`'s storage.
void kdf1(Hash &t1, Bytes key, Bytes input);
void kdf2(Hash &t1, Hash &t2, Bytes key, Bytes input);
void kdf3(Hash &t1, Hash &t2, Hash &t3, Bytes key, Bytes input);

}  // namespace jg::proto
